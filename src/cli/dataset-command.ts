import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import { lakeKeys } from '../plugins/loaders/lake/lake-layout.js';
import {
  lakeDataset,
  lakeDatasets,
  markPruned,
  versionOf,
  versionsOf,
  type LakeDatasetRow,
} from '../plugins/loaders/lake/lake-ledger.js';
import { flipPointer, readPointer } from '../plugins/loaders/lake/lake-publish.js';
import { openLakeStore } from '../plugins/loaders/lake/open-lake-store.js';
import type { Database } from '../store/database.js';
import { listDatasetLabels, listDatasets } from '../store/datasets.js';
import { formatCount, formatTable, formatTime, plural } from './format.js';
import { wholeNumber, withStore } from './shared.js';

// One notion of a dataset: a name whose versions a pipeline keeps, one of them current. A lake dataset's
// versions are folders of files behind its pointer (the `lake` loader); an imported dataset's versions are
// the imports of its label, the active one current (`dataset:` sections, import rules).

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

/** The lake's store for a dataset, from what its last run recorded; credentials from the environment. */
async function storeOf(d: LakeDatasetRow) {
  const settings = d.settings as {
    url?: string;
    s3?: { endpoint?: string; region?: string; pathStyle?: boolean };
  };
  return openLakeStore(settings.url ?? d.location, {
    ...(settings.s3?.endpoint ? { endpoint: settings.s3.endpoint } : {}),
    ...(settings.s3?.region ? { region: settings.s3.region } : {}),
    ...(settings.s3?.pathStyle !== undefined ? { pathStyle: settings.s3.pathStyle } : {}),
  });
}

async function lakeOrFail(db: Database, name: string, what: string): Promise<LakeDatasetRow> {
  const d = await lakeDataset(db, name);
  if (d) return d;
  const labels = await listDatasetLabels(db);
  if (labels.some((l) => l.label === name))
    throw new SluiceError('CONFIG_INVALID', `${name} is an imported dataset: ${what} is for lake datasets`, {
      hint: 'An import is replaced by importing its file again (docs/imports.md).',
    });
  throw new SluiceError('CONFIG_INVALID', `no dataset named ${name}`, {
    hint: '`sluice dataset list` shows the datasets.',
  });
}

export function registerDataset(program: Command) {
  const dataset = program
    .command('dataset')
    .description('Datasets and their versions: lake datasets (the lake loader) and imported ones');

  dataset
    .command('list')
    .description('Every dataset: its kind, current version and where it is')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const [lake, imported] = await withStore(
        async (db) => Promise.all([lakeDatasets(db), listDatasetLabels(db)]),
        { existing: true },
      );
      const rows = [
        ...lake.map((d) => ({
          name: d.id,
          kind: 'lake',
          current: d.current_version,
          versions: d.versions,
          where: d.location,
          updated: d.updated_at,
        })),
        ...imported.map((l) => ({
          name: l.label,
          kind: 'import',
          current: l.current_id,
          versions: l.imports,
          where: l.target_table,
          updated: l.latest_at,
        })),
      ];
      if (flags.json) return out(JSON.stringify(rows, null, 2));
      if (rows.length === 0)
        return out('No datasets yet: the lake loader and `dataset:` sections (imports) make them.');
      out(
        formatTable(
          [
            { header: 'DATASET' },
            { header: 'KIND' },
            { header: 'CURRENT' },
            { header: 'VERSIONS', right: true },
            { header: 'WHERE' },
            { header: 'UPDATED' },
          ],
          rows.map((r) => [
            r.name,
            r.kind,
            r.current ?? '-',
            formatCount(r.versions),
            r.where,
            formatTime(r.updated),
          ]),
        ),
      );
    });

  dataset
    .command('versions')
    .description('The versions of a dataset, newest first; * marks the current one')
    .argument('<dataset>', 'dataset name')
    .option('--json', 'as JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      await withStore(
        async (db) => {
          const lake = await lakeDataset(db, name);
          if (!lake) {
            const imports = await listDatasets(db, { label: name, limit: 1000 });
            if (imports.length === 0) await lakeOrFail(db, name, 'versions');
            if (flags.json) return out(JSON.stringify(imports, null, 2));
            return out(
              formatTable(
                [
                  { header: '' },
                  { header: 'VERSION', right: true },
                  { header: 'STATUS' },
                  { header: 'ROWS', right: true },
                  { header: 'FILE' },
                  { header: 'IMPORTED' },
                ],
                imports.map((d) => [
                  d.status === 'active' || d.status === 'empty' ? '*' : '',
                  d.id,
                  d.status,
                  formatCount(d.row_count),
                  d.file_name,
                  formatTime(d.created_at),
                ]),
              ),
            );
          }
          const versions = await versionsOf(db, name);
          if (flags.json)
            return out(
              JSON.stringify(
                versions.map(({ manifest: _m, columns: _c, ...v }) => v),
                null,
                2,
              ),
            );
          out(
            formatTable(
              [
                { header: '' },
                { header: 'VERSION' },
                { header: 'STATUS' },
                { header: 'MODE' },
                { header: 'ROWS', right: true },
                { header: 'CREATED' },
              ],
              versions.map((v) => [
                v.version === lake.current_version ? '*' : '',
                v.version,
                v.status,
                v.mode,
                formatCount(Number(v.rows)),
                formatTime(v.created_at),
              ]),
            ),
          );
        },
        { existing: true },
      );
    });

  dataset
    .command('show')
    .description("A version's manifest (the current version by default)")
    .argument('<dataset>', 'dataset name')
    .argument('[version]', 'version id')
    .action(async (name: string, version: string | undefined) => {
      await withStore(
        async (db) => {
          const lake = await lakeDataset(db, name);
          if (!lake) {
            const imports = await listDatasets(db, { label: name, limit: 1000 });
            const one = version
              ? imports.find((d) => d.id === version)
              : imports.find((d) => d.status === 'active' || d.status === 'empty');
            if (!one) await lakeOrFail(db, name, 'show');
            return out(JSON.stringify(one ?? null, null, 2));
          }
          const wanted = version ?? lake.current_version;
          if (!wanted) throw new SluiceError('CONFIG_INVALID', `${name} has no published version yet`);
          const v = await versionOf(db, name, wanted);
          if (!v)
            throw new SluiceError('CONFIG_INVALID', `${name} has no version ${wanted}`, {
              hint: `\`sluice dataset versions ${name}\` lists them.`,
            });
          out(JSON.stringify(v.manifest ?? { version: v.version, status: v.status }, null, 2));
        },
        { existing: true },
      );
    });

  dataset
    .command('rollback')
    .description('Point a lake dataset back at one of its published versions')
    .argument('<dataset>', 'dataset name')
    .argument('<version>', 'the version readers should see')
    .action(async (name: string, version: string) => {
      await withStore(
        async (db) => {
          const lake = await lakeOrFail(db, name, 'rollback');
          const v = await versionOf(db, name, version);
          if (!v || v.status !== 'published')
            throw new SluiceError(
              'CONFIG_INVALID',
              v
                ? `version ${version} of ${name} is ${v.status}: only a published version can be current`
                : `${name} has no version ${version}`,
              { hint: `\`sluice dataset versions ${name}\` lists them.` },
            );
          const store = await storeOf(lake);
          try {
            await flipPointer(store, db, name, version, 'rollback');
          } finally {
            await store.close();
          }
          out(`${name} now reads version ${version} (it was ${lake.current_version ?? 'none'})`);
        },
        { existing: true },
      );
    });

  dataset
    .command('prune')
    .description('Delete the files of old versions, keeping the newest N, the current one and any newer')
    .argument('<dataset>', 'dataset name')
    .requiredOption('--keep <n>', 'published versions to keep', wholeNumber(1))
    .action(async (name: string, flags: { keep: number }) => {
      await withStore(
        async (db) => {
          const lake = await lakeOrFail(db, name, 'prune');
          const store = await storeOf(lake);
          try {
            // The pointer as readers see it wins over the record of it: never prune what they read.
            const current = (await readPointer(store, name)) ?? lake.current_version;
            const published = (await versionsOf(db, name)).filter((v) => v.status === 'published');
            const gone = published
              .slice(flags.keep)
              .filter((v) => current !== null && current !== undefined && v.version < current);
            for (const v of gone) {
              await store.delete(await store.list(lakeKeys.version(name, v.version)));
              await markPruned(db, name, v.version);
            }
            out(
              gone.length === 0
                ? `nothing to prune: ${name} keeps ${plural(published.length, 'version')}`
                : `pruned ${plural(gone.length, 'version')} of ${name}: ${gone.map((v) => v.version).join(', ')}`,
            );
          } finally {
            await store.close();
          }
        },
        { existing: true },
      );
    });
}
