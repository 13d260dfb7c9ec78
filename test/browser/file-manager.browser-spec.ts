import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CDPSession, Page, Response } from 'playwright-core';
import { dropFile, launchBrowser, watchCspViolations, type Browser } from '../harness/browser';
import { photoJpeg } from '../harness/images';
import { s3Instance } from '../harness/peers/instances';
import { startS3rver, type S3Peer } from '../harness/peers/s3rver';
import { startSwitchProxy, type SwitchProxy } from '../harness/peers/switch-proxy';
import { createTestApp, OTHER_TOKEN, TOKEN, type TestApp } from '../harness/test-app';

const LOCAL = 'storages.Default';
const S3 = 'storages.S3';
const VIDEO = path.join(__dirname, '..', 'fixtures', 'media', 'clip.webm');
const MiB = 1024 * 1024;

/**
 * The file manager page in headless Chromium against the real service, with local disk and an
 * S3 instance on s3rver. The browser reaches the service through a TCP proxy the test can cut.
 */
describe('file manager page in Chromium', () => {
  let s3: S3Peer;
  let t: TestApp;
  let proxy: SwitchProxy;
  let browser: Browser;
  let page: Page;
  let violations: string[];
  let files: string;
  const folder = () => `${t.prefix}/`;
  const pageUrl = (hash = '') => `${proxy.endpoint}/storage/ui/${hash}`;
  const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

  beforeAll(async () => {
    files = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-ui-'));
    s3 = await startS3rver(['ui-bucket']);
    // The browser's way in, and the service's PUBLIC_URL (its signed URLs point there): the proxy
    // reads its target's port at each connection, so it can start before the service.
    const service = { port: 0 };
    proxy = await startSwitchProxy(service);
    t = await createTestApp({
      config: {
        storages: {
          [LOCAL]: { type: 'storages.LocalType', root: path.join(files, 'local') },
          [S3]: s3Instance(s3, 'ui-bucket'),
        },
      },
      env: { PUBLIC_URL: proxy.endpoint, API_TOKEN_SCOPES: JSON.stringify({ bob: { storages: [S3] } }) },
    });
    service.port = (t.app.getHttpServer().address() as { port: number }).port;
    browser = await launchBrowser();
    page = browser.page;
    page.setDefaultTimeout(15_000);
    violations = await watchCspViolations(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await t?.close();
    await s3?.close();
    if (files) fs.rmSync(files, { recursive: true, force: true });
  });

  afterEach(() => {
    const [cspViolations, errors] = [violations.splice(0), browser.errors.splice(0)];
    expect(cspViolations).toEqual([]);
    expect(errors).toEqual([]);
  });

  const openFolder = async (storage: string, prefix: string) => {
    const hash = new URLSearchParams({ token: TOKEN, storage, path: prefix });
    await page.goto('about:blank');
    await page.goto(pageUrl(`#${hash}`));
    await page.waitForFunction(() => !document.getElementById('main')!.hidden);
  };
  const row = (key: string) => page.locator(`tr[data-name="${key}"]`);
  const thumbnailShown = (key: string) =>
    page.waitForFunction((selector) => {
      const img = document.querySelector<HTMLImageElement>(selector);
      return !!img && img.complete && img.naturalWidth > 0;
    }, `tr[data-name="${key}"] img.thumb`);

  it('fails, saying how to install Chromium, where it is missing (never skips)', async () => {
    await expect(launchBrowser(path.join(files, 'no-chromium'))).rejects.toThrow('apt-get install -y chromium');
  });

  it('asks for a token, refuses a wrong one, and keeps the right one for the session', async () => {
    await page.goto(pageUrl());
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Open' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not accepted');
    expect(browser.errors.splice(0)).toEqual([expect.stringContaining('401')]);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('table').waitFor();
    const options = await page
      .locator('#instance option')
      .evaluateAll((o) => o.map((e) => (e as HTMLOptionElement).value));
    expect(options.sort()).toEqual([LOCAL, S3]);
    await page.reload();
    await page.getByRole('table').waitFor();
    expect(await page.getByLabel('API token').isVisible()).toBe(false);
    await browser.screenshot('signed-in');
  });

  it('takes the token from #token= and removes it from the address bar', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(pageUrl(`#token=${TOKEN}`));
    await page.getByRole('table').waitFor();
    expect(page.url()).not.toContain(TOKEN);
  });

  it('offers in the instance picker only the instances the token may use', async () => {
    await page.goto('about:blank');
    await page.goto(pageUrl(`#token=${OTHER_TOKEN}`));
    await page.getByRole('table').waitFor();
    const options = page.getByLabel('Instance').locator('option');
    expect(await options.evaluateAll((o) => o.map((e) => (e as HTMLOptionElement).value))).toEqual([S3]);
  });

  it.each([
    ['local disk', LOCAL],
    ['S3 (s3rver)', S3],
  ])('uploads a dropped image to %s with an expiry, and shows its thumbnail', async (_label, storage) => {
    const image = await photoJpeg(320, 240);
    const source = path.join(files, 'photo.jpg');
    fs.writeFileSync(source, image);
    await openFolder(storage, folder());
    await page.getByLabel('Expires').selectOption({ label: 'after 1 hour' });
    await dropFile(page, '#dropzone', source);
    const key = `${folder()}photo.jpg`;
    await page.locator(`#uploads li[data-path="${key}"][data-state="done"]`).waitFor();
    await thumbnailShown(key);
    const meta = await t.http.get(`/storage/meta/${key}?storage=${storage}`).set('Authorization', t.auth).expect(200);
    expect(meta.body.md5).toBe(md5(image));
    expect(meta.body.expires).toBeGreaterThan(Date.now() + 3500_000);
    expect(await row(key).locator('td').nth(4).textContent()).toMatch(/^in (59 minutes|1 hour)$/);
    await browser.screenshot(`upload-${storage === S3 ? 's3' : 'local'}`);
  });

  it('walks folders with breadcrumbs and moves between rows with the arrow keys', async () => {
    await t.service.uploadByFile({ file: `${folder()}docs/a.txt`, data: Buffer.from('a'), contentType: 'text/plain' });
    await openFolder(LOCAL, folder());
    await page.getByRole('link', { name: 'docs/' }).click();
    await row(`${folder()}docs/a.txt`).waitFor();
    const crumbs = await page.locator('#crumbs li').allTextContents();
    expect(crumbs).toEqual(['All files', t.prefix, 'docs']);
    await page.getByRole('link', { name: t.prefix }).click();
    await row(`${folder()}photo.jpg`).waitFor();
    await page.getByRole('link', { name: 'docs/' }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.name)).toBe(`${folder()}photo.jpg`);
  });

  it('previews a video in place, and seeking fetches a byte range', async () => {
    const key = `${folder()}clip.webm`;
    await t.service.uploadByFile({ file: key, data: fs.readFileSync(VIDEO), contentType: 'video/webm' });
    await openFolder(LOCAL, folder());
    // Every preview response, with the Range its request sent and whether the seek had begun.
    let seeking = false;
    const fetched: Array<{ range: string | undefined; status: number; afterSeek: boolean }> = [];
    const onResponse = (response: Response) => {
      if (!response.url().includes('/preview/')) return;
      const afterSeek = seeking;
      void response
        .request()
        .allHeaders()
        .then((headers) => fetched.push({ range: headers.range, status: response.status(), afterSeek }));
    };
    page.on('response', onResponse);
    // At 256 KiB/s the seek comes long before the first response reaches 25 s into the file, so
    // the player must ask for a later range (unthrottled it may have read all 480 KB already).
    const cdp = await page.context().newCDPSession(page);
    await throttleDownloads(cdp, 256 * 1024);
    await row(key).getByRole('button', { name: 'clip.webm', exact: true }).click();
    const video = page.getByRole('dialog').locator('video');
    await video.waitFor();
    await video.evaluate(
      (v: HTMLVideoElement) =>
        new Promise((resolve) => (v.readyState >= 1 ? resolve(null) : v.addEventListener('loadedmetadata', resolve))),
    );
    seeking = true;
    const seeked = await video.evaluate(
      (v: HTMLVideoElement) =>
        new Promise<number>((resolve) => {
          v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
          v.currentTime = 25;
        }),
    );
    page.off('response', onResponse);
    await throttleDownloads(cdp, -1);
    await cdp.detach();
    expect(seeked).toBeCloseTo(25, 0);
    // The seek fetched a range from past the start of the file, and the service answered 206.
    const seekRanges = fetched.filter((f) => f.afterSeek && Number(/^bytes=(\d+)-/.exec(f.range ?? '')?.[1]) > 0);
    expect(seekRanges.length).toBeGreaterThan(0);
    expect(seekRanges.every((f) => f.status === 206)).toBe(true);
    await browser.screenshot('video-preview');
    // Escape closes the preview and gives the focus back to the row it was opened from.
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('clip.webm');
  });

  it('downloads a file through a signed URL, with its name and bytes', async () => {
    const key = `${folder()}photo.jpg`;
    await openFolder(LOCAL, folder());
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row(key).getByRole('button', { name: 'Download photo.jpg' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('photo.jpg');
    const saved = fs.readFileSync(await download.path());
    const meta = await t.http.get(`/storage/meta/${key}`).set('Authorization', t.auth).expect(200);
    expect(md5(saved)).toBe(meta.body.md5);
  });

  it('deletes a file: the row goes, and so does the file', async () => {
    const key = `${folder()}photo.jpg`;
    await openFolder(LOCAL, folder());
    page.once('dialog', (dialog) => void dialog.accept());
    await row(key).getByRole('button', { name: 'Delete photo.jpg' }).click();
    await row(key).waitFor({ state: 'detached' });
    await t.http.get(`/storage/meta/${key}`).set('Authorization', t.auth).expect(404);
    await browser.screenshot('after-delete');
  });

  it('resumes a 200 MiB upload cut off mid-way without sending again what had arrived', async () => {
    const size = 200 * MiB;
    const source = path.join(files, 'big.bin');
    fs.writeFileSync(source, '');
    fs.truncateSync(source, size);
    await openFolder(LOCAL, folder());
    const before = proxy.bytesForwarded;
    await dropFile(page, '#dropzone', source);
    const key = `${folder()}big.bin`;
    const upload = page.locator(`#uploads li[data-path="${key}"]`);
    await waitFor(() => proxy.bytesForwarded - before > 70 * MiB, 60_000);
    proxy.down();
    const cutAt = proxy.bytesForwarded - before;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    proxy.up();

    // Pause stops the bytes; Resume goes on from where the service's bytes end.
    await waitFor(() => proxy.bytesForwarded - before > 110 * MiB, 60_000);
    await upload.getByRole('button', { name: 'Pause big.bin' }).click();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pausedAt = proxy.bytesForwarded;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(proxy.bytesForwarded - pausedAt).toBeLessThan(64 * 1024);
    expect(await upload.getAttribute('data-state')).toBeNull();
    await upload.getByRole('button', { name: 'Resume big.bin' }).click();

    await page.locator(`#uploads li[data-path="${key}"][data-state="done"]`).waitFor({ timeout: 90_000 });
    const sent = proxy.bytesForwarded - before;
    console.log(
      `200 MiB upload: cut after ${(cutAt / MiB).toFixed(1)} MiB, paused at ${((pausedAt - before) / MiB).toFixed(1)} MiB, ` +
        `${(sent / MiB).toFixed(1)} MiB sent in all (${((sent - size) / 1024).toFixed(0)} KiB over the file's size, headers included)`,
    );
    // The cut shows in the console as failed requests, and as nothing else.
    expect(
      browser.errors
        .splice(0)
        .filter((e) => !/net::ERR_(CONNECTION_RESET|SOCKET_NOT_CONNECTED|CONNECTION_REFUSED|EMPTY_RESPONSE)/.test(e)),
    ).toEqual([]);
    const meta = await t.http.get(`/storage/meta/${key}`).set('Authorization', t.auth).expect(200);
    expect(meta.body.size).toBe(size);
    expect(meta.body.md5).toBe(createHash('md5').update(Buffer.alloc(size)).digest('hex'));
    // Starting over would send the whole file after the cut: cutAt + size in all.
    expect(sent - size).toBeLessThan(16 * MiB);
    await browser.screenshot('big-upload-resumed');
  }, 120_000);
});

/** Limits what the page downloads to `bytesPerSecond` (-1: no limit), as a slow network would. */
async function throttleDownloads(cdp: CDPSession, bytesPerSecond: number): Promise<void> {
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: bytesPerSecond,
    uploadThroughput: -1,
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
