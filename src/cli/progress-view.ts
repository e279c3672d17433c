import cliProgress from 'cli-progress';
import type { Progress } from '../core/run-summary.js';
import { formatCount } from './format.js';

/**
 * A one-line progress bar on the terminal: files, rows, rows/s. Disabled (stderr not a terminal, --json),
 * it shows no bar but still prints notes: warnings must reach cron mails and CI logs too.
 */
export function createProgressView(options: { enabled: boolean }) {
  if (!options.enabled)
    return {
      update: (_p: Progress) => {},
      note: (message: string) => void process.stderr.write(message + '\n'),
      stop: () => {},
    };
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} files | {rows} rows | {rate} rows/s | {rejected} rejected | {file}',
      stream: process.stderr,
      hideCursor: true,
      barsize: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;
  return {
    update(p: Progress) {
      const total = Math.max(p.filesTotal ?? p.filesSeen, p.filesSeen, 1);
      const secs = (performance.now() - started) / 1000;
      const payload = {
        rows: formatCount(p.rowsRead),
        rate: secs > 0 ? formatCount(Math.round(p.rowsRead / secs)) : '0',
        rejected: formatCount(p.rowsRejected),
        file: p.file ?? '',
      };
      if (!running) {
        bar.start(total, p.filesSeen, payload);
        running = true;
      } else {
        bar.setTotal(total);
        bar.update(p.filesSeen, payload);
      }
    },
    note(message: string) {
      if (running) bar.stop();
      running = false;
      process.stderr.write(message + '\n');
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
