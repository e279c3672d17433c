import type { Command } from 'commander';
import { listDatasets } from '../store/datasets.js';
import { formatCount, formatTable, formatTime } from './format.js';
import { wholeNumber, withStore } from './shared.js';

interface DatasetsFlags {
  rule?: string;
  label?: string;
  limit: number;
  json?: boolean;
}

export function registerDatasets(program: Command) {
  program
    .command('datasets')
    .description('List the imported datasets, newest first')
    .option('--rule <name>', 'only those of this import rule')
    .option('--label <label>', 'only those of this label')
    .option('--limit <n>', 'at most this many', wholeNumber(1), 50)
    .option('--json', 'as JSON')
    .action(async (flags: DatasetsFlags) => {
      const rows = await withStore(
        (db) =>
          listDatasets(db, {
            ...(flags.rule ? { rule: flags.rule } : {}),
            ...(flags.label ? { label: flags.label } : {}),
            limit: flags.limit,
          }),
        { existing: true },
      );
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      if (rows.length === 0) {
        const which = [flags.rule && `rule ${flags.rule}`, flags.label && `label ${flags.label}`].filter(
          Boolean,
        );
        process.stdout.write(
          which.length > 0
            ? `No datasets of ${which.join(' and ')}.\n`
            : 'No datasets yet: `sluice watch` imports the files of the import rules.\n',
        );
        return;
      }
      const table = formatTable(
        [
          { header: 'ID', right: true },
          { header: 'STATUS' },
          { header: 'LABEL' },
          { header: 'DATE' },
          { header: 'ROWS', right: true },
          { header: 'TABLE' },
          { header: 'FILE' },
          { header: 'IMPORTED' },
        ],
        rows.map((d) => [
          d.id,
          d.status,
          d.label,
          d.date ?? '-',
          formatCount(d.row_count),
          d.target_table,
          d.file_name,
          formatTime(d.created_at),
        ]),
      ).split('\n');
      const out = [table[0]!];
      rows.forEach((d, i) => {
        out.push(table[i + 1]!);
        if (d.error) out.push(`  ${d.error.split('\n')[0]}`);
      });
      process.stdout.write(out.join('\n') + '\n');
    });
}
