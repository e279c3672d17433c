import net from 'node:net';
import { freePort } from './free-port.js';

/** A TCP proxy to the server that can cut every connection once enough bytes went to the client. */
export async function startProxy(targetPort: number) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let limit = Infinity;
  let sent = 0;
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
      if (sent > limit) cut();
      else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  return {
    port,
    /** From now on, cut every connection after `bytes` more bytes from the server. */
    cutAfter(bytes: number) {
      sent = 0;
      limit = bytes;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
