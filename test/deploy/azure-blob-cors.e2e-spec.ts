import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startAzurite, type AzurePeer } from '../harness/peers/azurite';

const run = promisify(execFile);
const SCRIPT = path.join(__dirname, '..', '..', 'deploy', 'azure-blob-cors.mjs');

/** deploy/azure-blob-cors.mjs (docker-compose's azurite-setup) against a real Azurite. */
describe('the Blob service CORS set-up script', () => {
  let azure: AzurePeer;

  beforeAll(async () => {
    azure = await startAzurite();
  });
  afterAll(async () => azure?.close());

  it('sets rules that let an allowed page PUT blocks and read the ETag, and no other page', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT], {
      env: {
        ...process.env,
        AZURE_STORAGE_CONNECTION_STRING: azure.connectionString,
        CORS_ORIGINS: 'http://localhost:3000',
      },
    });
    expect(stdout).toContain('http://localhost:3000');
    const blob = `http://127.0.0.1:${azure.port}/devstoreaccount1/c/b.bin?comp=block&blockid=AAAA`;
    const preflight = (origin: string) =>
      fetch(blob, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'x-ms-blob-type',
        },
      });
    const allowed = await preflight('http://localhost:3000');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('PUT');
    const other = await preflight('https://elsewhere.test');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('fails loudly with a wrong key', async () => {
    const wrong = azure.connectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from('nope').toString('base64')}`,
    );
    await expect(
      run(process.execPath, [SCRIPT], { env: { ...process.env, AZURE_STORAGE_CONNECTION_STRING: wrong } }),
    ).rejects.toMatchObject({ code: 1 });
  });
});
