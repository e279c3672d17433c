import { copyFile, mkdir, readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createRegistry } from '../plugins/index.js';
import { runPipeline } from '../runner/run-pipeline.js';
import { stopOnSignals } from '../runner/stop-signals.js';
import { exitCodeOf, formatSummary, stopMessages } from './run-command.js';
import { readPipeline, withStore } from './shared.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/**
 * `npm start`: the visitor ETL on the embedded database. Copies the sample reports into an inbox under
 * `.sluice/demo/`, runs examples/visits/pipeline.yaml, and shows what was loaded and rejected. Running it
 * again shows the ledger at work: the same reports are skipped.
 */
export function registerDemo(program: Command, exit: (code: number) => void) {
  program
    .command('demo')
    .description('Run the visitor ETL example on sample data (what `npm start` does)')
    .action(async () => {
      await withStore(async (db, home) => {
        const inbox = path.join(home, 'demo', 'visits', 'inbox');
        const backup = path.join(home, 'demo', 'visits', 'backup');
        await mkdir(inbox, { recursive: true });
        const data = path.join(EXAMPLES, 'visits', 'data');
        // Dated an hour back: the copies are complete, and the source would otherwise wait its stableFor to
        // be sure that files this young are no longer being written.
        const arrived = new Date(Date.now() - 3600_000);
        for (const name of await readdir(data)) {
          await copyFile(path.join(data, name), path.join(inbox, name));
          await utimes(path.join(inbox, name), arrived, arrived);
        }
        process.env.VISITS_SOURCE = inbox;
        process.env.VISITS_BACKUP_DIR = backup;
        process.stdout.write(`Sluice demo: the visitor ETL (examples/visits) on ${db.location}\n`);
        process.stdout.write(`Sample reports copied to ${inbox}\n\n`);

        const registry = createRegistry();
        const spec = await readPipeline(path.join(EXAMPLES, 'visits', 'pipeline.yaml'), registry);
        const stop = stopOnSignals(stopMessages((line) => process.stderr.write(`${line}\n`)));
        const summary = await runPipeline({ db, spec, registry, home, signal: stop.signal }).finally(() =>
          stop.dispose(),
        );
        process.stdout.write(formatSummary(summary));

        const visitors = await db.query<{
          email: string;
          total_visits: number;
          visits_current_month: number;
        }>(
          'SELECT email, total_visits, visits_current_month FROM visitor ORDER BY total_visits DESC, email LIMIT 5',
        );
        process.stdout.write('\nTop visitors (visitor table):\n');
        for (const v of visitors.rows) {
          process.stdout.write(
            `  ${v.email.padEnd(28)} ${v.total_visits} visits, ${v.visits_current_month} this month\n`,
          );
        }
        const errors = await db.query<{ file_name: string; line_number: number | null; reasons: string }>(
          'SELECT file_name, line_number, reasons FROM errors ORDER BY file_name, line_number LIMIT 10',
        );
        process.stdout.write(
          `\nRejected in this run (errors table):${errors.rows.length === 0 ? ' none' : ''}\n`,
        );
        for (const e of errors.rows)
          process.stdout.write(`  ${e.file_name}:${e.line_number ?? '-'}  ${e.reasons}\n`);
        process.stdout.write(
          `\nRun it again (\`sluice demo\`, or \`npm start\` in the checkout): the same reports are recognised by their content and skipped.\n`,
        );
        exit(exitCodeOf(summary.status));
      });
    });
}
