import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { interpolateEnv } from './env.js';
import { SluiceError } from './errors.js';
import { notifySchema, type NotifySpec } from './notify-spec.js';
import type { Registry } from './registry.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';

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
  /** The file it was read from, for messages; `<inline>` otherwise. */
  file: string;
}

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
  run: z
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
        .strictObject({
          attempts: z.number().int().min(1).max(20).default(DEFAULT_RETRY.attempts),
          baseDelay: durationSchema.optional(),
          maxDelay: durationSchema.optional(),
        })
        .optional()
        .describe('Retries of transient errors: attempts in all, exponential backoff with jitter.'),
    })
    .optional()
    .describe('How runs behave: refresh window, maximum run time, retries.'),
  source: z.looseObject({ type: z.string() }).describe('Where files or records come from.'),
  parse: z
    .looseObject({ type: z.string() })
    .optional()
    .describe('How a file becomes rows (not for sources that give records).'),
  check: z.unknown().optional().describe('Per-column rules; a row that breaks one is rejected.'),
  transform: z
    .array(z.looseObject({ type: z.string() }))
    .optional()
    .describe('Steps applied to rows in order.'),
  load: z.looseObject({ type: z.string() }).describe('Where rows go.'),
  notify: notifySchema.optional().describe('Notices on failure and on rejects, by e-mail or webhook.'),
  archive: z
    .strictObject({
      dir: z.string().min(1).describe('Folder of the dated zip archives.'),
      name: z
        .string()
        .regex(/\.zip$/, 'a file name ending in .zip')
        .default('{pipeline}_{yyyyMMdd}.zip')
        .describe(
          'Zip name; {yyyyMMdd}, {yyyy}, {MM}, {dd} come from the as-of date, {pipeline} is the name.',
        ),
    })
    .optional()
    .describe('Loaded files go into a dated zip after their load commits.'),
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

interface Problem {
  path: (string | number)[];
  message: string;
}

/** Reads, interpolates and validates a pipeline file's text. Throws CONFIG_INVALID listing every problem. */
export function parsePipeline(
  text: string,
  options: { file?: string; env?: Record<string, string | undefined>; registry: Registry },
): PipelineSpec {
  const file = options.file ?? '<inline>';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`);
    throw new SluiceError('CONFIG_INVALID', `the YAML cannot be read:\n${lines.join('\n')}`, { where: file });
  }

  const envProblems = interpolateDocument(doc, options.env ?? {}, at);
  if (envProblems.length > 0) {
    throw new SluiceError('ENV_MISSING', envProblems.join('\n'), {
      where: file,
      hint: 'Set the variables, or give a default in the file as ${NAME:-default}.',
    });
  }

  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'a pipeline file must be a mapping with name, source, parse and load',
      {
        where: file,
      },
    );
  }
  const problems: Problem[] = [];
  const spec = validate(raw as Record<string, unknown>, options.registry, problems);
  if (problems.length > 0 || !spec) {
    const lines = problems.map((p) => {
      const where = at(nodeAt(doc, p.path)?.range?.[0]);
      const path = p.path.length > 0 ? `${p.path.join('.')}: ` : '';
      return `${where} ${path}${p.message}${found(raw, p.path)}`;
    });
    throw new SluiceError('CONFIG_INVALID', `the pipeline is invalid:\n${lines.join('\n')}`, { where: file });
  }
  return { ...spec, file };
}

function validate(raw: Record<string, unknown>, registry: Registry, problems: Problem[]) {
  // A source given only as `url:` takes its type from the URL scheme; a plain path is a local folder.
  const source = raw.source;
  if (
    source &&
    typeof source === 'object' &&
    !('type' in source) &&
    typeof (source as { url?: unknown }).url === 'string'
  ) {
    const url = (source as { url: string }).url;
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase() ?? 'file';
    const plugin = registry.sourceForScheme(scheme);
    if (plugin) (source as Record<string, unknown>).type = plugin.name;
    else problems.push({ path: ['source', 'url'], message: `no source serves "${scheme}://" URLs` });
  }

  if (source && typeof source === 'object' && !('type' in source) && !('url' in source)) {
    problems.push({ path: ['source'], message: 'give a url (a folder, or sftp://user@host/path) or a type' });
    return undefined;
  }
  const top = envelope.safeParse(raw);
  if (!top.success) {
    problems.push(...toProblems(top.error.issues, []));
    return undefined;
  }
  const stage = <K extends 'source' | 'parser' | 'transform' | 'loader'>(
    kind: K,
    section: { type: string },
    path: (string | number)[],
  ): StageSpec | undefined => {
    const plugin = registry.find(kind, section.type);
    if (!plugin) {
      const names = registry.list(kind).map((p) => p.name);
      problems.push({
        path: [...path, 'type'],
        message: `unknown ${kind}; expected one of: ${names.join(', ')}`,
      });
      return undefined;
    }
    const { type: _type, ...rest } = section;
    const parsed = parseCoercingText(plugin.options, rest);
    if (!parsed.success) {
      problems.push(...toProblems(parsed.error.issues, path));
      return undefined;
    }
    return { type: section.type, options: parsed.data };
  };

  const v = top.data;
  const sourceStage = stage('source', v.source, ['source']);
  const sourcePlugin = registry.find('source', v.source.type);
  const givesRecords = sourcePlugin?.produces === 'records';
  let parseStage: StageSpec | undefined;
  if (v.parse) {
    if (givesRecords)
      problems.push({
        path: ['parse'],
        message: `the ${v.source.type} source gives records: leave parse out`,
      });
    else parseStage = stage('parser', v.parse, ['parse']);
  } else if (sourcePlugin && !givesRecords) {
    problems.push({
      path: ['parse'],
      message: `the ${v.source.type} source gives files: say how to parse them`,
    });
  }
  const transform = (v.transform ?? []).map((t, i) => stage('transform', t, ['transform', i]));
  const loadStage = stage('loader', v.load, ['load']);
  let check: CheckSpec | undefined;
  if (v.check !== undefined) {
    const parsed = checkSectionSchema(registry).safeParse(v.check);
    if (!parsed.success) {
      problems.push(...toProblems(parsed.error.issues, ['check']));
    } else {
      check = { nullValues: parsed.data.nullValues, columns: {} };
      const ruleOrder = registry.list('check').map((r) => r.name);
      for (const [column, spec] of Object.entries(parsed.data.columns)) {
        const entries = spec as Record<string, unknown>;
        check.columns[column] = {
          required: entries.required === true,
          // `rule: false` switches a rule off, like leaving it out.
          rules: ruleOrder
            .filter((r) => entries[r] !== undefined && entries[r] !== false)
            .map((r) => ({ rule: r, options: entries[r] })),
        };
      }
    }
  }
  if (!sourceStage || !loadStage || transform.some((t) => !t) || problems.length > 0) return undefined;

  if (loadStage) {
    const loader = registry.get('loader', loadStage.type);
    const mode = loader.writeMode(loadStage.options);
    if (!loader.capabilities.modes.includes(mode)) {
      problems.push({
        path: ['load', 'mode'],
        message: `the ${loader.name} loader cannot ${mode}; it can ${loader.capabilities.modes.join(', ')}`,
      });
      return undefined;
    }
  }
  return {
    name: v.name,
    ...(v.description !== undefined ? { description: v.description } : {}),
    groups: v.group === undefined ? [] : Array.isArray(v.group) ? v.group : [v.group],
    run: {
      ...(v.run?.refreshEvery !== undefined ? { refreshEveryMs: v.run.refreshEvery } : {}),
      ...(v.run?.maxRunTime !== undefined ? { maxRunTimeMs: v.run.maxRunTime } : {}),
      ...(v.run?.claimTimeout !== undefined ? { claimTimeoutMs: v.run.claimTimeout } : {}),
      retry: {
        attempts: v.run?.retry?.attempts ?? DEFAULT_RETRY.attempts,
        baseDelayMs: v.run?.retry?.baseDelay ?? DEFAULT_RETRY.baseDelayMs,
        maxDelayMs: v.run?.retry?.maxDelay ?? DEFAULT_RETRY.maxDelayMs,
      },
    },
    source: sourceStage,
    ...(parseStage ? { parse: parseStage } : {}),
    ...(check ? { check } : {}),
    transform: transform as StageSpec[],
    load: loadStage,
    ...(v.archive ? { archive: v.archive } : {}),
    ...(v.notify ? { notify: v.notify } : {}),
  };
}

type Issue = z.core.$ZodIssue;

/**
 * Parses stage options; where the schema wants a number or a boolean and finds text that reads as one, it
 * takes it as such and parses again. `${VAR}` always gives text (`port: ${SFTP_PORT}`), and only the schema
 * knows which fields are numbers: a numeric password stays text.
 */
function parseCoercingText(schema: z.ZodType, options: Record<string, unknown>) {
  let value: unknown = options;
  for (let round = 0; round < 20; round++) {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed;
    let changed = false;
    for (const issue of parsed.error.issues) {
      if (issue.code !== 'invalid_type' || issue.path.length === 0) continue;
      const path = issue.path as (string | number)[];
      const current = getAt(value, path);
      if (typeof current !== 'string') continue;
      const expected = (issue as { expected?: string }).expected;
      if (expected === 'number' && /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(current.trim())) {
        value = setAt(value, path, Number(current.trim()));
        changed = true;
      } else if (expected === 'boolean' && /^(true|false)$/.test(current.trim())) {
        value = setAt(value, path, current.trim() === 'true');
        changed = true;
      }
    }
    if (!changed) return parsed;
  }
  return schema.safeParse(value);
}

function getAt(value: unknown, path: (string | number)[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/** A copy of `value` with `replacement` at `path` (the objects along the path are copied). */
function setAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [key, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (
    Array.isArray(value) ? [...(value as unknown[])] : { ...(value as Record<string | number, unknown>) }
  ) as Record<string | number, unknown>;
  copy[key] = setAt(copy[key], rest, replacement);
  return copy;
}

/**
 * Zod issues as problems under `prefix`. A union's bare "Invalid input" is replaced by what the most
 * specific branch said (for `integer: true | { min, max }`, what is wrong inside the object).
 */
function toProblems(issues: readonly Issue[], prefix: (string | number)[]): Problem[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const informative = issue.errors.filter((branch) =>
        branch.some((i) => i.path.length > 0 || (i.code !== 'invalid_type' && i.code !== 'invalid_value')),
      );
      const pick = informative[informative.length - 1];
      if (pick) return toProblems(pick, path);
    }
    return [{ path, message: issue.message }];
  });
}

/**
 * Replaces `${VAR}` in every scalar, so that line numbers stay true and values cannot change the structure.
 * A key whose whole value is one reference that comes out empty (`key: ${VAR:-}`) is left out, as if unset.
 */
function interpolateDocument(
  doc: Document,
  env: Record<string, string | undefined>,
  at: (o?: number) => string,
) {
  const problems: string[] = [];
  const wholeReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}$/;
  visit(doc, {
    Pair(_key, pair) {
      const value = pair.value;
      if (!isScalar(value) || typeof value.value !== 'string' || !wholeReference.test(value.value))
        return undefined;
      const result = interpolateEnv(value.value, env);
      if (result.missing.length === 0 && result.value === '') return visit.REMOVE;
      return undefined;
    },
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const result = interpolateEnv(node.value, env);
      for (const name of result.missing)
        problems.push(`${at(node.range?.[0])}: environment variable ${name} is not set`);
      node.value = result.value;
    },
  });
  return problems;
}

/** The deepest node that exists along a path, for a line number. */
function nodeAt(doc: Document, path: (string | number)[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && (isScalar(node) || isMap(node) || isSeq(node))) return node as Node;
  }
  return undefined;
}

/** Keys whose values are never echoed in a message. */
const SECRET_KEY = /password|passphrase|secret|token|privatekey|apikey/i;

function found(raw: unknown, path: (string | number)[]): string {
  if (path.some((key) => typeof key === 'string' && SECRET_KEY.test(key))) return '';
  let value: unknown = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<string | number, unknown>)[key];
  }
  if (value === undefined) return ' (missing)';
  if (value !== null && typeof value === 'object') return '';
  return ` (found ${JSON.stringify(value)})`;
}

/** A JSON Schema of pipeline files for editors, assembled from every plugin's options. */
export function pipelineJsonSchema(registry: Registry): unknown {
  const section = (kind: 'source' | 'parser' | 'transform' | 'loader') =>
    z.union(
      registry.list(kind).map((p) => {
        const base = p.options instanceof z.ZodObject ? p.options : z.object({});
        return base.extend({ type: z.literal(p.name) }).describe(p.summary);
      }) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]],
    );
  const schema = envelope.extend({
    source: section('source'),
    parse: section('parser').optional(),
    check: checkSectionSchema(registry).optional(),
    transform: z.array(section('transform')).optional(),
    load: section('loader'),
  });
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
}
