/** The part of busboy 1.x (no bundled types; installed with multer) that the test peers use. */
declare module 'busboy' {
  import type { IncomingHttpHeaders } from 'node:http';
  import type { Writable } from 'node:stream';
  function busboy(config: { headers: IncomingHttpHeaders; limits?: { fieldSize?: number } }): Writable;
  export = busboy;
}
