/**
 * The second baseline for small GETs: `express` with `serve-static` over DIR (what a typical
 * Node app would do to serve files). `GET /f/{name}` and `GET /ready`.
 *
 *   PORT=… DIR=… node -r ts-node/register/transpile-only bench/servers/static.ts
 */
import express from 'express';
import serveStatic from 'serve-static';

const app = express();
app.disable('x-powered-by');
app.get('/ready', (_req, res) => {
  res.send('ok');
});
app.use('/f', serveStatic(process.env.DIR!, { index: false, dotfiles: 'deny' }));
app.listen(Number(process.env.PORT), '127.0.0.1');
