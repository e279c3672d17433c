import type { Command } from 'commander';
import { listRejects } from '../store/rejects.js';
import { withStore } from './shared.js';

export function registerRejects(program: Command) {
  program
    .command('rejects')
    .description("Show rejected rows with their reasons (by default the latest run's)")
    .option('--run <id>', 'the run')
    .option('--pipeline <name>', "the pipeline's latest run with rejects")
    .option('--limit <n>', 'how many', '100')
    .option('--json', 'as JSON')
    .action(async (flags: { run?: string; pipeline?: string; limit: string; json?: boolean }) => {
      const rejects = await withStore((db) =>
        listRejects(db, {
          limit: Number(flags.limit) || 100,
          ...(flags.run ? { runId: flags.run } : {}),
          ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
        }),
      );
      if (flags.json) {
        process.stdout.write(JSON.stringify(rejects, null, 2) + '\n');
        return;
      }
      if (rejects.length === 0) {
        process.stdout.write('No rejects.\n');
        return;
      }
      process.stdout.write(`Rejects of run ${rejects[0]!.run_id}:\n`);
      for (const r of rejects) {
        const where = `${r.file}:${r.line ?? '-'}`;
        const column = r.column_name ? `${r.column_name}: ` : '';
        const value = r.value !== null ? ` (value ${JSON.stringify(r.value)})` : '';
        process.stdout.write(`  ${where.padEnd(24)} ${r.rule.padEnd(12)} ${column}${r.message}${value}\n`);
      }
    });
}
