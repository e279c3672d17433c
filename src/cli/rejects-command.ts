import type { Command } from 'commander';
import { listRejects } from '../store/rejects.js';
import { formatTable } from './format.js';
import { knownPipeline, resolveRunId, wholeNumber, withStore } from './shared.js';

interface RejectsFlags {
  run?: string;
  pipeline?: string;
  limit: number;
  json?: boolean;
}

export function registerRejects(program: Command) {
  program
    .command('rejects')
    .description("Show rejected rows with their reasons (by default the latest run's)")
    .option('--run <id>', 'the run: its id, or any unique start of it')
    .option('--pipeline <name>', "the pipeline's latest run with rejects")
    .option('--limit <n>', 'how many', wholeNumber(1), 100)
    .option('--json', 'as JSON')
    .action(async (flags: RejectsFlags) => {
      const { runId, rejects } = await withStore(
        async (db) => {
          const runId = flags.run ? await resolveRunId(db, flags.run) : undefined;
          if (flags.pipeline) await knownPipeline(db, flags.pipeline);
          const rejects = await listRejects(db, {
            limit: flags.limit,
            ...(runId ? { runId } : {}),
            ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
          });
          return { runId, rejects };
        },
        { existing: true },
      );
      if (flags.json) {
        process.stdout.write(JSON.stringify(rejects, null, 2) + '\n');
        return;
      }
      if (rejects.length === 0) {
        const of = runId ? ` in run ${runId}` : flags.pipeline ? ` in any run of ${flags.pipeline}` : '';
        process.stdout.write(`No rejected rows${of}.\n`);
        return;
      }
      process.stdout.write(`Rejects of run ${rejects[0]!.run_id}:\n`);
      const rows = rejects.map((r) => {
        const column = r.column_name ? `${r.column_name}: ` : '';
        const value = r.value !== null ? ` (value ${JSON.stringify(r.value)})` : '';
        return [`${r.file}:${r.line ?? '-'}`, r.rule, `${column}${r.message}${value}`];
      });
      const table = formatTable([{ header: 'FILE:LINE' }, { header: 'RULE' }, { header: 'PROBLEM' }], rows);
      process.stdout.write(table.replace(/^/gm, '  ').replace(/ +$/gm, ''));
      if (rejects.length === flags.limit)
        process.stdout.write(`(the first ${flags.limit}; --limit N shows more)\n`);
    });
}
