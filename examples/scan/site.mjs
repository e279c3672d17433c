// A tiny event site for the scan example: `node examples/scan/site.mjs [port]` serves it on 127.0.0.1.
// Events 101–106: public with a file, public without, private, an "event not found" page, a 404, and one
// more with a file. Files carry an ETag, so a second scan downloads nothing.
/* global URL, Buffer, process, console */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const attendees = {
  101: 'email,name,company\nana@example.com,Ana Ruiz,Acme\nbo@example.com,Bo Lind,Globex\n',
  106: 'email,name,company\ncy@example.com,Cy Young,Initech\n',
};

const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

function eventPage(id) {
  if (id === 103)
    return page(
      'Private event',
      '<h1>Investor day</h1><p>This event is private.</p><form class="login"></form>',
    );
  if (id === 104) return page('MeetMax', '<p class="error">Event not found. Check the event id.</p>');
  if (id === 101 || id === 106)
    return page(
      `Conference ${id}`,
      `<h1>Conference ${id}</h1><a class="btn download" href="/files/event-${id}.csv">Download attendees</a>`,
    );
  if (id === 102) return page('Conference 102', '<h1>Conference 102</h1><p>No attendee list yet.</p>');
  return undefined;
}

/** Starts the site; resolves with its origin, the paths asked so far and a close function. */
export function startSite(port = 0) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    requests.push(url.pathname);
    const event = /^\/event\/(\d+)$/.exec(url.pathname);
    const file = /^\/files\/event-(\d+)\.csv$/.exec(url.pathname);
    if (event) {
      const html = eventPage(Number(event[1]));
      res.writeHead(html ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html ?? page('Not found', '<p>404</p>'));
      return;
    }
    const body = file ? attendees[Number(file[1])] : undefined;
    if (body) {
      const etag = `"${createHash('sha1').update(body).digest('hex')}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/csv',
        'content-length': Buffer.byteLength(body),
        'content-disposition': `attachment; filename="attendees-${file[1]}.csv"`,
        etag,
      });
      res.end(body);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const origin = `http://127.0.0.1:${server.address().port}`;
      resolve({
        origin,
        requests,
        close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { origin } = await startSite(Number(process.argv[2] ?? 8080));
  console.log(`event site on ${origin} (event pages at ${origin}/event/101 … /event/106)`);
}
