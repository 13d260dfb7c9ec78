// Bundles the file manager page (src/ui/app, with the browser client) into dist/ui, the files the
// packed library serves at {prefix}/ui/. Run after `nest build` (which empties dist/ first) by
// `npm run build`; uses the bundling code the service itself falls back on when run from source.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { writeUiAssets } = require('../dist/storage/http/ui-assets.js');

const written = await writeUiAssets();
for (const file of written) console.log(`file manager page: ${file}`);
