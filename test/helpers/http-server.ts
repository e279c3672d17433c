import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** When the request arrived (performance.now()). */
  at: number;
}

export interface TestHttpServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback for the web-source tests: every request is recorded (with its body) before
 * the handler answers it.
 */
export async function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void | Promise<void>,
): Promise<TestHttpServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at,
      };
      requests.push(seen);
      Promise.resolve(handler(req, res, seen)).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends a JSON body with a length. */
export function sendJson(
  res: http.ServerResponse,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
