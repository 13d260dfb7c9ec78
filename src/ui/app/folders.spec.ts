import { baseName, breadcrumbs, folderView, previewKind } from './folders';

describe('folderView', () => {
  const items = ['a.txt', 'docs/b.txt', 'docs/sub/c.txt', 'img/x.png', 'docs/a.txt', 'Docs/z.txt'].map((name) => ({
    name,
  }));

  it.each([
    ['', ['Docs', 'docs', 'img'], ['a.txt']],
    ['docs/', ['sub'], ['docs/a.txt', 'docs/b.txt']],
    ['docs/sub/', [], ['docs/sub/c.txt']],
    ['nothing/', [], []],
  ])('splits the listing of %j into folders and files', (prefix, folders, files) => {
    const view = folderView(items, prefix);
    expect(view.folders).toEqual(folders);
    expect(view.files.map((f) => f.name)).toEqual(files);
  });

  it('ignores records outside the prefix (a token narrowed the listing differently)', () => {
    expect(folderView([{ name: 'other/x' }], 'docs/')).toEqual({ folders: [], files: [] });
  });
});

describe('breadcrumbs', () => {
  it.each([
    ['', [['All files', '']]],
    [
      'a/b c/',
      [
        ['All files', ''],
        ['a', 'a/'],
        ['b c', 'a/b c/'],
      ],
    ],
  ])('of %j', (prefix, expected) => {
    expect(breadcrumbs(prefix).map((c) => [c.label, c.prefix])).toEqual(expected);
  });
});

describe('baseName and previewKind', () => {
  it.each([
    ['a/b/c.txt', 'c.txt'],
    ['c.txt', 'c.txt'],
  ])('baseName(%j) is %j', (key, name) => expect(baseName(key)).toBe(name));

  it.each([
    ['image/jpeg', 'image'],
    ['IMAGE/PNG; q=1', 'image'],
    ['image/svg+xml', 'none'],
    ['video/webm', 'video'],
    ['audio/mpeg', 'audio'],
    ['application/pdf', 'pdf'],
    ['text/plain; charset=utf-8', 'text'],
    ['text/html', 'none'],
    ['application/octet-stream', 'none'],
  ])('previewKind(%j) is %j', (type, kind) => expect(previewKind(type)).toBe(kind));
});
