import { z } from 'zod';
import { ConfigReader, type Env, type KeyPath } from './config-file.js';
import { datasetSectionSchema, type DatasetSpec } from './dataset-spec.js';
import { durationSchema } from './duration-schema.js';
import { SluiceError } from './errors.js';
import { editorJsonSchema } from './json-schema.js';
import { notifySchema, type NotifySpec } from './notify-spec.js';
import { pathOption } from './path-option.js';
import type { Registry } from './registry.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { retryFields, retryPolicy } from './retry-schema.js';

/** {@link DEFAULT_RETRY} as a pipeline file writes it. */
const DEFAULT_RETRY_TEXT = { attempts: 3, baseDelay: '500ms', maxDelay: '30s' };

/** One stage of a pipeline: the plugin's name and its validated options. */
export interface StageSpec<O = unknown> {
  type: string;
  options: O;
}

export interface ColumnCheckSpec {
  required: boolean;
  /** Rule name to validated options, in the order the registry lists rules. */
  rules: { rule: string; options: unknown }[];
}

export interface CheckSpec {
  nullValues: string[];
  columns: Record<string, ColumnCheckSpec>;
}

export interface ArchiveSpec {
  dir: string;
  /** Zip name with date tokens such as `{yyyyMMdd}`, filled from the run's as-of date. */
  name: string;
}

/** How the runner runs a pipeline, beyond its stages. */
export interface RunSettings {
  /** A run started sooner than this after the last successful one is skipped unless forced. */
  refreshEveryMs?: number;
  /** A run is stopped past this; `sluice cleanup` reaps a run whose heartbeat stopped for this long. */
  maxRunTimeMs?: number;
  /** Another process may take over a run whose heartbeat stopped this long ago (2 minutes by default). */
  claimTimeoutMs?: number;
  retry: RetryPolicy;
}

/** A validated pipeline. */
export interface PipelineSpec {
  name: string;
  description?: string;
  /** Groups it belongs to, for `sluice run --group`. */
  groups: string[];
  run: RunSettings;
  source: StageSpec;
  /** Absent when the source produces records rather than files. */
  parse?: StageSpec;
  check?: CheckSpec;
  transform: StageSpec[];
  load: StageSpec;
  archive?: ArchiveSpec;
  notify?: NotifySpec;
  /** Each file becomes a dataset (`sluice.datasets`); the loader must keep datasets. */
  dataset?: DatasetSpec;
  /** The file it was read from, for messages; `<inline>` otherwise. */
  file: string;
}

const runSchema = z
  .strictObject({
    refreshEvery: durationSchema
      .optional()
      .describe('Skip a run started sooner than this after the last successful one (unless forced).'),
    maxRunTime: durationSchema
      .optional()
      .describe('Stop a run that takes longer; `sluice cleanup` reaps runs silent for this long.'),
    claimTimeout: durationSchema
      .optional()
      .describe(
        'Another process may take over a run whose heartbeat stopped this long ago (default 2m; a run of this host whose process is gone is taken over at once).',
      ),
    retry: z
      .strictObject(retryFields(DEFAULT_RETRY_TEXT))
      .optional()
      .describe('Retries of transient errors: attempts in all, exponential backoff with jitter.'),
  })
  .optional()
  .describe('How runs behave: refresh window, maximum run time, retries.');

const archiveSchema = z
  .strictObject({
    dir: pathOption().describe(
      "Folder of the dated zip archives; a relative path is read from the pipeline file's folder.",
    ),
    name: z
      .string()
      .regex(/\.zip$/, 'a file name ending in .zip')
      .default('{pipeline}_{yyyyMMdd}.zip')
      .describe('Zip name; {yyyyMMdd}, {yyyy}, {MM}, {dd} come from the as-of date, {pipeline} is the name.'),
  })
  .optional()
  .describe('Loaded files go into a dated zip after their load commits.');

/** A stage section before its plugin is known: a mapping (its `type` and options are checked apart). */
const section = z.looseObject({});

/**
 * The top level of a pipeline. The stage sections are only mappings here: each is checked against its
 * plugin's options on its own, so a problem in one never hides the problems of another.
 */
const envelope = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'a name of letters, digits, "_", "." or "-" (at most 100)')
    .describe('Unique pipeline name: it keys the ledger, state and locks.'),
  description: z.string().optional().describe('What the pipeline is for.'),
  group: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .optional()
    .describe('Group name(s): `sluice run --group NAME` runs every pipeline of a group.'),
  run: runSchema,
  source: section.describe('Where files or records come from.'),
  parse: section.optional().describe('How a file becomes rows (not for sources that give records).'),
  check: z.unknown().optional().describe('Per-column rules; a row that breaks one is rejected.'),
  transform: z.array(section).optional().describe('Steps applied to rows in order.'),
  load: section.describe('Where rows go.'),
  notify: notifySchema.optional().describe('Notices on failure and on rejects, by e-mail or webhook.'),
  archive: archiveSchema,
  dataset: datasetSectionSchema.optional(),
});

/** The `check:` section, built from the registered rules. */
export function checkSectionSchema(registry: Registry) {
  const ruleShape: Record<string, z.ZodType> = {};
  for (const rule of registry.list('check'))
    ruleShape[rule.name] = rule.options.optional().describe(rule.summary);
  const column = z.strictObject({
    required: z.boolean().default(false).describe('An empty (null) value is a reject.'),
    ...ruleShape,
  });
  return z.strictObject({
    nullValues: z
      .array(z.string())
      .default([''])
      .describe('Values read as null, compared after trimming (such as "-" or "").'),
    columns: z.record(z.string(), column).describe('Rules per column, by the column name the parser gives.'),
  });
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

type StageKind = 'source' | 'parser' | 'transform' | 'loader';

/** What {@link lintPipeline} found in a file. */
export interface PipelineLint {
  name: string;
  /** The plugins of source, parse and load, as far as they are known. */
  stages: string[];
  /** The spec, unless a value it needs comes from a variable that is not set. */
  spec?: PipelineSpec;
  /** Unset variables, as `file:line:col: key.path: …`. */
  warnings: string[];
  /** What is wrong with the file (CONFIG_INVALID, or ENV_MISSING with `strictEnv`). */
  error?: SluiceError;
}

/**
 * Reads, interpolates and validates a pipeline file's text. Relative paths are read from the file's
 * folder. Throws CONFIG_INVALID listing every problem of the file (ENV_MISSING when the only problems
 * are unset variables).
 */
export function parsePipeline(
  text: string,
  options: { file?: string; env?: Env; registry: Registry; baseDir?: string },
): PipelineSpec {
  const file = options.file ?? '<inline>';
  const reader = ConfigReader.fromText(text, {
    file,
    env: options.env ?? {},
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
  });
  const checked = checkPipeline(reader, options.registry);
  reader.finish('the pipeline is invalid');
  return complete(checked, file);
}

/**
 * A pipeline given as a value (built in code, or read elsewhere) validated as {@link parsePipeline} would
 * a file: the same spec with every default, or the same CONFIG_INVALID with key paths. `${VAR}`
 * references are filled only when `env` is given; relative paths are read from `baseDir`, else the
 * folder of `file`, else the working directory.
 */
export function validatePipeline(
  value: unknown,
  options: { registry: Registry; file?: string; env?: Env; baseDir?: string },
): PipelineSpec {
  const file = options.file ?? '<inline>';
  const reader = ConfigReader.fromValue(value, {
    file,
    ...(options.env ? { env: options.env } : {}),
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
  });
  const checked = checkPipeline(reader, options.registry);
  reader.finish('the pipeline is invalid');
  return complete(checked, file);
}

/**
 * Checks a pipeline file without its secrets: structure, types and plugin options, with unset
 * variables as warnings (`strictEnv` makes them errors) and the values that depend on them left
 * unchecked. What {@link parsePipeline} would throw is in `error`, beside the warnings.
 */
export function lintPipeline(
  text: string,
  options: { file: string; env: Env; registry: Registry; strictEnv?: boolean },
): PipelineLint {
  let reader: ConfigReader;
  try {
    reader = ConfigReader.fromText(text, {
      file: options.file,
      env: options.env,
      unsetEnv: options.strictEnv ? 'error' : 'warn',
    });
  } catch (error) {
    if (error instanceof SluiceError) return { name: '?', stages: [], warnings: [], error };
    throw error;
  }
  const checked = checkPipeline(reader, options.registry);
  const lint: PipelineLint = {
    name: checked?.name ?? '?',
    stages: checked?.stages ?? [],
    ...(checked?.spec ? { spec: { ...checked.spec, file: options.file } } : {}),
    warnings: reader.warnings,
  };
  try {
    reader.finish('the pipeline is invalid');
  } catch (error) {
    if (error instanceof SluiceError) return { ...lint, error };
    throw error;
  }
  return lint;
}

interface Checked {
  name?: string;
  stages: string[];
  spec?: Omit<PipelineSpec, 'file'>;
}

/** Every check of a pipeline, each section on its own; the problems go to the reader. */
function checkPipeline(reader: ConfigReader, registry: Registry): Checked | undefined {
  const raw = reader.value;
  if (!isMapping(raw)) {
    reader.add({ path: [], message: 'a pipeline is a mapping with name, source, parse and load' });
    return undefined;
  }
  const top = reader.check(envelope, raw, []);

  const stage = (kind: StageKind, value: unknown, at: KeyPath, type?: string): StageSpec | undefined => {
    if (!isMapping(value)) return undefined; // the envelope said what it should be
    const name = type ?? value.type;
    const names = registry.list(kind).map((p) => p.name);
    if (typeof name !== 'string') {
      reader.add({ path: [...at, 'type'], message: `missing; expected one of: ${names.join(', ')}` });
      return undefined;
    }
    const plugin = registry.find(kind, name);
    if (!plugin) {
      reader.add({
        path: [...at, 'type'],
        message: `unknown ${kind} "${name}"; expected one of: ${names.join(', ')}`,
      });
      return undefined;
    }
    const { type: _type, ...rest } = value;
    const options = reader.check(plugin.options, rest, at);
    return options === undefined ? undefined : { type: name, options };
  };

  const sourceType = inferSourceType(reader, registry, raw.source);
  const sourceStage = sourceType ? stage('source', raw.source, ['source'], sourceType) : undefined;
  const sourcePlugin = sourceType ? registry.find('source', sourceType) : undefined;
  const givesRecords = sourcePlugin?.produces === 'records';
  let parseStage: StageSpec | undefined;
  if (raw.parse !== undefined) {
    if (givesRecords)
      reader.add({ path: ['parse'], message: `the ${sourceType} source gives records: leave parse out` });
    else parseStage = stage('parser', raw.parse, ['parse']);
  } else if (sourcePlugin && !givesRecords) {
    reader.add({ path: ['parse'], message: `the ${sourceType} source gives files: say how to parse them` });
  }
  const transforms = Array.isArray(raw.transform)
    ? raw.transform.map((t, i) => stage('transform', t, ['transform', i]))
    : [];
  const loadStage = stage('loader', raw.load, ['load']);
  if (loadStage) {
    const loader = registry.get('loader', loadStage.type);
    const mode = loader.writeMode(loadStage.options);
    if (!loader.capabilities.modes.includes(mode))
      reader.add({
        path: ['load', 'mode'],
        message: `the ${loader.name} loader cannot ${mode}; it can ${loader.capabilities.modes.join(', ')}`,
      });
  }
  const check = raw.check === undefined ? undefined : checkSection(reader, registry, raw.check);
  if (top?.dataset) checkDataset(reader, registry, top.dataset, loadStage, parseStage, givesRecords);

  const stages = [
    sourceType,
    isMapping(raw.parse) ? raw.parse.type : undefined,
    isMapping(raw.load) ? raw.load.type : undefined,
  ].filter((t): t is string => typeof t === 'string');
  const name = typeof raw.name === 'string' ? raw.name : undefined;
  const complete =
    top && sourceStage && loadStage && transforms.every(Boolean) && (raw.parse === undefined || parseStage);
  if (!complete || (raw.check !== undefined && !check) || reader.problems.length > 0)
    return { ...(name ? { name } : {}), stages };
  return {
    name: top.name,
    stages,
    spec: {
      name: top.name,
      ...(top.description !== undefined ? { description: top.description } : {}),
      groups: top.group === undefined ? [] : Array.isArray(top.group) ? top.group : [top.group],
      run: {
        ...(top.run?.refreshEvery !== undefined ? { refreshEveryMs: top.run.refreshEvery } : {}),
        ...(top.run?.maxRunTime !== undefined ? { maxRunTimeMs: top.run.maxRunTime } : {}),
        ...(top.run?.claimTimeout !== undefined ? { claimTimeoutMs: top.run.claimTimeout } : {}),
        retry: top.run?.retry ? retryPolicy(top.run.retry) : DEFAULT_RETRY,
      },
      source: sourceStage,
      ...(parseStage ? { parse: parseStage } : {}),
      ...(check ? { check } : {}),
      transform: transforms as StageSpec[],
      load: loadStage,
      ...(top.archive ? { archive: top.archive } : {}),
      ...(top.notify ? { notify: top.notify } : {}),
      ...(top.dataset ? { dataset: top.dataset } : {}),
    },
  };
}

/**
 * The source plugin: `type`, or the one serving the scheme of `url` (a plain path is a local folder).
 * When the URL comes from a variable that is not set (a lint without the environment), any source that
 * serves URLs and accepts the options will do.
 */
function inferSourceType(reader: ConfigReader, registry: Registry, source: unknown): string | undefined {
  if (!isMapping(source)) return undefined;
  if (source.type !== undefined) {
    if (typeof source.type === 'string') return source.type;
    reader.add({ path: ['source', 'type'], message: 'a source plugin name, such as files or sftp' });
    return undefined;
  }
  const url = source.url;
  if (typeof url !== 'string') {
    reader.add({
      path: ['source'],
      message: 'give a url (a folder, or sftp://user@host/path) or a type',
    });
    return undefined;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined && reader.dependsOnUnsetEnv(['source', 'url'])) {
    const fits = registry
      .list('source')
      .filter((s) => s.schemes.length > 0)
      .find((s) => reader.trial(s.options, { ...source }, ['source']).ok);
    return (fits ?? registry.sourceForScheme('file'))?.name;
  }
  const plugin = registry.sourceForScheme(scheme ?? 'file');
  if (!plugin) {
    reader.add({ path: ['source', 'url'], message: `no source serves "${scheme}://" URLs; give a type` });
    return undefined;
  }
  return plugin.name;
}

/** A `dataset:` section needs a loader that keeps datasets, files, and a parser that reads cells if asked. */
function checkDataset(
  reader: ConfigReader,
  registry: Registry,
  dataset: DatasetSpec,
  load: StageSpec | undefined,
  parse: StageSpec | undefined,
  givesRecords: boolean,
) {
  const loader = load ? registry.find('loader', load.type) : undefined;
  if (loader && !loader.capabilities.datasets)
    reader.add({ path: ['dataset'], message: `the ${loader.name} loader does not keep datasets` });
  if (givesRecords)
    reader.add({ path: ['dataset'], message: 'datasets are made of files: the source gives records' });
  const parser = parse ? registry.find('parser', parse.type) : undefined;
  if (dataset.date?.from === 'cell' && parser && !parser.readCell)
    reader.add({
      path: ['dataset', 'date', 'from'],
      message: `the ${parser.name} parser cannot read a single cell; take the date from a column`,
    });
}

function checkSection(reader: ConfigReader, registry: Registry, value: unknown): CheckSpec | undefined {
  const parsed = reader.check(checkSectionSchema(registry), value, ['check']);
  if (!parsed) return undefined;
  const check: CheckSpec = { nullValues: parsed.nullValues, columns: {} };
  const ruleOrder = registry.list('check').map((r) => r.name);
  for (const [column, spec] of Object.entries(parsed.columns)) {
    const entries = spec as Record<string, unknown>;
    check.columns[column] = {
      required: entries.required === true,
      // `rule: false` switches a rule off, like leaving it out.
      rules: ruleOrder
        .filter((r) => entries[r] !== undefined && entries[r] !== false)
        .map((r) => ({ rule: r, options: entries[r] })),
    };
  }
  return check;
}

/**
 * The JSON Schema of pipeline files for editors (draft-07, for the yaml-language-server), assembled from
 * every plugin's options. A source that serves URLs may leave `type` out; any scalar may be a `${VAR}`.
 */
export function pipelineJsonSchema(registry: Registry): unknown {
  const sectionOf = (kind: StageKind) =>
    z.union(
      registry.list(kind).map((p) => {
        const base = p.options instanceof z.ZodObject ? p.options : z.object({});
        const inferred = p.kind === 'source' && p.schemes.length > 0;
        const type = inferred ? z.literal(p.name).optional() : z.literal(p.name);
        return base
          .safeExtend({
            type: type.describe(
              inferred
                ? `${p.summary} May be left out: the scheme of url says (${p.schemes.join(', ')}).`
                : p.summary,
            ),
          })
          .describe(p.summary);
      }) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]],
    );
  const schema = envelope.extend({
    source: sectionOf('source'),
    parse: sectionOf('parser').optional(),
    check: checkSectionSchema(registry).optional(),
    transform: z.array(sectionOf('transform')).optional(),
    load: sectionOf('loader'),
  });
  return editorJsonSchema(schema, { title: 'Sluice pipeline' });
}

/** The spec, or an internal error: after `finish()`, a pipeline without problems always has one. */
function complete(checked: Checked | undefined, file: string): PipelineSpec {
  if (!checked?.spec)
    throw new SluiceError('INTERNAL', 'the pipeline was checked but not built', { where: file });
  return { ...checked.spec, file };
}
