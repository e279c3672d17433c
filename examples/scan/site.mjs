// A tiny event site for the scan example: `node examples/scan/site.mjs [port] [--background]` serves it on
// 127.0.0.1 (the port of SCAN_SITE, or 8080, when none is given); --background returns once it is up.
// Events 101–106: public with a file, public without, private, an "event not found" page, a 404, and one
// more with a file. Files carry an ETag, so a second scan downloads nothing.
/* global URL, Buffer, process, console */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
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
  return new Promise((resolve, reject) => {
    server.once('error', reject); // the port is taken, say
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

/** The port: the one given, else SCAN_SITE's (the URL scan.yaml reads), else 8080. */
function portToServe() {
  const given = process.argv.slice(2).find((a) => /^\d+$/.test(a));
  if (given) return Number(given);
  const site = process.env.SCAN_SITE ? new URL(process.env.SCAN_SITE) : undefined;
  return site?.port ? Number(site.port) : 8080;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--background')) {
    // Start a detached copy and return once it listens, so that the next command finds the site up.
    const pidFile = path.resolve('.sluice', 'scan', 'site.pid');
    const child = spawn(process.execPath, [process.argv[1], String(portToServe())], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr.pipe(process.stderr); // why it could not start, if it cannot
    const line = await new Promise((resolve) => {
      child.stdout.setEncoding('utf8').once('data', resolve);
      child.once('exit', (code) => process.exit(code ?? 1));
    });
    await mkdir(path.dirname(pidFile), { recursive: true });
    await writeFile(pidFile, `${child.pid}\n`);
    console.log(
      `${String(line).trim()}; process ${child.pid} (kill $(cat ${path.relative('.', pidFile)}) stops it)`,
    );
    // Let go of the site: it keeps running with no pipe to this process (or to whoever ran it).
    child.stdout.destroy();
    child.stderr.destroy();
    child.unref();
    process.exit(0);
  }
  const port = portToServe();
  const { origin } = await startSite(port).catch((error) => {
    console.error(`cannot serve the event site on port ${port}: ${error.code ?? error.message}`);
    process.exit(1);
  });
  console.log(`event site on ${origin} (event pages at ${origin}/event/101 … /event/106)`);
}
