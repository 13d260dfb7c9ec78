import { CreateStorageFiles1764057600000 } from './1764057600000-create-storage-files';

/** Every schema migration, oldest first. Hosts add these to their data source's `migrations`. */
export const storageMigrations = [CreateStorageFiles1764057600000];
