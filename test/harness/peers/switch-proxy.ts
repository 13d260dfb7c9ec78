import * as net from 'node:net';

export interface SwitchProxy {
  /** `http://<listen host>:<port>`: use it as the backend's endpoint. */
  endpoint: string;
  port: number;
  /** Cuts every open connection and refuses new ones (reset at once) until `up()`. */
  down(): void;
  /**
   * Stops forwarding, both ways, on every open connection and accepts new ones without ever
   * answering, until `up()`: a peer that hangs. `up()` then drops the hung connections.
   */
  hang(): void;
  up(): void;
  /** Bytes passed from clients to the peer so far (requests: headers and bodies). */
  readonly bytesForwarded: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on a free loopback port in front of a real peer, that the test can switch off and
 * on: the way to make a backend go away and come back without restarting it (its data stays).
 * `target.port` is read at each new connection, so the peer may be started after the proxy.
 */
export async function startSwitchProxy(
  target: { host?: string; port: number },
  listenHost = '127.0.0.1',
): Promise<SwitchProxy> {
  let isDown = false;
  let isHung = false;
  let forwarded = 0;
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  const hung = new Set<net.Socket>();
  const stall = (socket: net.Socket) => {
    hung.add(socket);
    socket.unpipe();
    socket.pause();
  };
  const server = net.createServer((client) => {
    if (isDown) {
      client.resetAndDestroy();
      return;
    }
    if (isHung) {
      client.on('error', () => undefined);
      stall(client);
      return;
    }
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => (forwarded += chunk.length));
    client.pipe(upstream).pipe(client);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://${net.isIPv6(listenHost) ? `[${listenHost}]` : listenHost}:${port}`,
    port,
    down() {
      isDown = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    hang() {
      isHung = true;
      for (const pair of pairs) pair.forEach(stall);
    },
    up() {
      isDown = false;
      isHung = false;
      for (const socket of hung) socket.destroy();
      hung.clear();
    },
    get bytesForwarded() {
      return forwarded;
    },
    async close() {
      for (const socket of [...sockets, ...hung]) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
