/** The auth guard every storage route runs (swap it with `forRoot({ authGuard })`). */
export const STORAGE_AUTH_GUARD = Symbol('STORAGE_AUTH_GUARD');
/** Route metadata key set by `@Public()`. */
export const IS_PUBLIC_KEY = 'storage:isPublic';
