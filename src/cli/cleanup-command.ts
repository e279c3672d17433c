import type { Command } from 'commander';
import { describeError } from '../core/errors.js';
import { createRegistry } from '../plugins/index.js';
import { cleanupStaleRuns } from '../runner/cleanup.js';
import { runGroup } from '../runner/run-group.js';
import { latestFailedRuns } from '../store/runs.js';
import { formatGroup } from './run-command.js';
import { plural } from './format.js';
import { durationArgument, EXIT, readPipeline, wholeNumber, withStore } from './shared.js';

interface CleanupFlags {
  retry?: boolean;
  /** Milliseconds. */
  maxRunTime?: number;
  maxConcurrent: number;
  json?: boolean;
}

export function registerCleanup(program: Command, exit: (code: number) => void) {
  program
    .command('cleanup')
    .description(
      'Mark runs whose heartbeat stopped for longer than their maximum run time as failed, releasing their claims; --retry reruns the pipelines whose last run failed',
    )
    .option('--retry', 'then rerun (incrementally) every pipeline whose latest run failed')
    .option(
      '--max-run-time <duration>',
      'for runs whose pipeline sets none, such as 45m (default 30m)',
      durationArgument(),
    )
    .option('--max-concurrent <n>', 'pipelines rerun at once', wholeNumber(1), 1)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CleanupFlags) => {
      const defaultMaxRunMs = flags.maxRunTime;
      const registry = createRegistry();
      const code = await withStore(
        async (db, home) => {
          const cleaned = await cleanupStaleRuns(db, defaultMaxRunMs ? { defaultMaxRunMs } : {});
          const out: string[] = [];
          for (const r of cleaned.reaped)
            out.push(`reaped run ${r.id} of ${r.pipeline}: no heartbeat since ${r.heartbeatAt}`);
          for (const r of cleaned.alive)
            out.push(
              `left run ${r.id} of ${r.pipeline}: its heartbeat is late but its process (${r.pid} on ${r.host}) is still there`,
            );
          if (out.length === 0) out.push('nothing to clean up');
          let retried;
          if (flags.retry) {
            const failed = await latestFailedRuns(db);
            const specs = [];
            for (const f of failed) {
              if (!f.specFile) {
                out.push(`cannot retry ${f.pipeline}: its run did not record a pipeline file`);
                continue;
              }
              try {
                specs.push(await readPipeline(f.specFile, registry));
              } catch (error) {
                out.push(`cannot retry ${f.pipeline}: ${describeError(error)}`);
              }
            }
            if (specs.length > 0) {
              retried = await runGroup(specs, {
                db,
                registry,
                home,
                force: true,
                maxConcurrent: flags.maxConcurrent,
              });
              out.push(`retried ${plural(specs.length, 'pipeline')}:`, formatGroup(retried).trimEnd());
            } else out.push('no failed pipeline to retry');
          }
          if (flags.json) process.stdout.write(JSON.stringify({ ...cleaned, retried }, null, 2) + '\n');
          else process.stdout.write(out.join('\n') + '\n');
          return retried && retried.some((r) => r.status !== 'succeeded' && r.status !== 'skipped')
            ? EXIT.failed
            : EXIT.ok;
        },
        { existing: true },
      );
      exit(code);
    });
}
