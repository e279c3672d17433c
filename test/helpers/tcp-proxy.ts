import net from 'node:net';
import { freePort } from './free-port.js';

/** A TCP proxy to the server that can cut every connection once enough bytes went to the client. */
export async function startProxy(targetPort: number) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let limit = Infinity;
  let sent = 0;
  let once = false;
  let cuts = 0;
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > limit) {
        cuts++;
        if (once) limit = Infinity; // the connections after this one pass untouched
        cut();
      } else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  return {
    port,
    /**
     * From now on, cut every connection after `bytes` more bytes from the server; with `once`, only the first
     * connection that gets there (later ones, such as a reconnection, pass).
     */
    cutAfter(bytes: number, options: { once?: boolean } = {}) {
      sent = 0;
      limit = bytes;
      once = options.once ?? false;
    },
    /** How many connections were cut so far. */
    get cuts() {
      return cuts;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
