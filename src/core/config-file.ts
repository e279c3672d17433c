import path from 'node:path';
import { distance } from 'fastest-levenshtein';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { z } from 'zod';
import { interpolateEnv, isLoneReferenceWithDefault } from './env.js';
import { errorMessage, SluiceError, type ErrorCode } from './errors.js';
import { resolvePaths, unwrapSchema, type WalkableDef } from './path-option.js';
import { renamedKeyMessage, renamedKeysPlace } from './renamed-keys.js';

// The one way Sluice reads a configuration file (pipelines, import rules, inbox files, reports): YAML with
// bounded aliases, `${VAR}` references filled from the environment, relative paths read from the file's
// folder, and every problem of the file reported at once as `file:line:col key.path: what (found …)`.

export type Env = Record<string, string | undefined>;
export type KeyPath = readonly (string | number)[];

/** A place in a file, 1-based. */
export interface Position {
  line: number;
  col: number;
}

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** Key path from the top of the file (`['rules', 0, 'subject']`); empty for the file as a whole. */
  path: KeyPath;
  message: string;
  /** Point at the key rather than its value (an unknown key). */
  onKey?: boolean;
  /** An environment variable that is not set: alone, such problems are ENV_MISSING. */
  unsetEnv?: boolean;
  /** Where it is, when known without the key path (YAML syntax errors). */
  position?: Position;
}

/** `rules[0].targetFolder` */
export function formatKeyPath(keys: KeyPath): string {
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

const pathKey = (keys: KeyPath) => JSON.stringify(keys);

const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- YAML --------------------------------------------------------------------------------------------

// Aliases are resolved when the document becomes a value; past this many resolutions (weighted by what
// each alias holds) the `yaml` library refuses, so an alias bomb ("billion laughs") costs nothing.
const MAX_ALIAS_COUNT = 100;

/** The position of a key path's key or value in a YAML document, or of the deepest part of it there is. */
export type Locate = (keys: KeyPath, part?: 'key' | 'value') => Position | undefined;

function locator(doc: Document, lineCounter: LineCounter): Locate {
  const position = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset);
  };
  return (keys, part = 'value') => {
    let node: unknown = doc.contents;
    let found: Node | undefined = (doc.contents as Node | null) ?? undefined;
    for (const [i, key] of keys.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
        if (!pair) break;
        const last = i === keys.length - 1;
        const keyNode = pair.key as Node;
        node = pair.value;
        found = last && part === 'key' ? keyNode : ((pair.value as Node | null) ?? keyNode);
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
        if (!node) break;
        found = node as Node;
      } else break;
    }
    return position(found);
  };
}

/** A YAML configuration file read into a value, with the means to say where a key path is. */
export interface YamlConfig {
  file: string;
  /** The value as written (`${VAR}` references kept). */
  raw: unknown;
  locate: Locate;
}

/**
 * Reads YAML text. Anything the parser refuses (syntax, duplicate keys, several documents, an alias
 * bomb, an unknown tag) is CONFIG_INVALID naming the file, line and column: never an unexpected error.
 */
export function parseYamlConfig(text: string, file: string): YamlConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const refused = (errors: YAMLError[]): ConfigProblem[] =>
    errors.map((e) => ({
      path: [],
      message: `the YAML cannot be read: ${e.message.split('\n')[0]}`,
      position: lineCounter.linePos(e.pos[0]),
    }));
  // The first error is the one to fix: those after it mostly follow from it.
  const [first] = [...refused(doc.errors), ...refused(doc.warnings)];
  if (first) throw configError([first], { file, what: 'the YAML cannot be read' });
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    let alias: Position | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (node.range) alias = lineCounter.linePos(node.range[0]);
        return visit.BREAK;
      },
    });
    // The library throws a ReferenceError for an alias bomb; anything else it throws is reported as is.
    const message =
      error instanceof ReferenceError
        ? `its aliases (*name) expand too much (${error.message}); write the values out`
        : errorMessage(error);
    throw configError(
      [{ path: [], message: `the YAML cannot be read: ${message}`, ...(alias ? { position: alias } : {}) }],
      { file, what: 'the YAML cannot be read' },
    );
  }
  return { file, raw, locate: locator(doc, lineCounter) };
}

// ---- ${VAR} ------------------------------------------------------------------------------------------

/** A value with its `${VAR}` references filled in. */
export interface Interpolation {
  value: unknown;
  /** References without a default to variables that are not set, where they are. */
  unset: { path: KeyPath; name: string }[];
  /** Key paths (as {@link pathKey}) whose text came, in whole or in part, from the environment. */
  fromEnv: Set<string>;
}

/**
 * Fills `${VAR}` and `${VAR:-default}` in every string of a value (after the YAML is read, so a value can
 * never add keys). A key whose value is a lone `${VAR:-…}` that comes out empty is left out, as if unset.
 */
export function interpolateConfig(value: unknown, env: Env): Interpolation {
  const unset: Interpolation['unset'] = [];
  const fromEnv = new Set<string>();
  const walk = (v: unknown, at: KeyPath): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('${')) return v;
      const result = interpolateEnv(v, env);
      for (const name of result.missing) unset.push({ path: at, name });
      if (result.references.length > 0) fromEnv.add(pathKey(at));
      return result.value;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...at, i]));
    if (isMapping(v)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) {
        const filled = walk(item, [...at, key]);
        if (typeof item === 'string' && isLoneReferenceWithDefault(item) && filled === '') continue;
        out[key] = filled;
      }
      return out;
    }
    return v;
  };
  return { value: walk(value, []), unset, fromEnv };
}

// ---- validation --------------------------------------------------------------------------------------

type Issue = z.core.$ZodIssue;

/**
 * The schemas a value at `keys` inside `schema` is checked against, under their wrappers (optional,
 * default, a refinement's pipe): every branch of a union.
 */
function schemasAt(schema: z.core.$ZodType, keys: KeyPath): z.core.$ZodType[] {
  const { schema: inner, def } = unwrapSchema(schema);
  switch (def.type) {
    case 'union':
      return def.options!.flatMap((o) => schemasAt(o, keys));
    case 'intersection':
      return [...schemasAt(def.left!, keys), ...schemasAt(def.right!, keys)];
    case 'object': {
      if (keys.length === 0) return [inner];
      const shape = def.shape!;
      const [key, ...rest] = keys as [string | number, ...(string | number)[]];
      const field = Object.hasOwn(shape, String(key)) ? shape[String(key)] : def.catchall;
      return field ? schemasAt(field, rest) : [];
    }
    case 'array':
      return keys.length > 0 ? schemasAt(def.element!, keys.slice(1)) : [inner];
    case 'record':
      return keys.length > 0 ? schemasAt(def.valueType!, keys.slice(1)) : [inner];
    default:
      return keys.length === 0 ? [inner] : [];
  }
}

/** The keys the objects among `schemas` (see {@link schemasAt}) may have, for suggestions. */
function knownKeysAt(schemas: readonly z.core.$ZodType[]): string[] {
  const keys = schemas.flatMap((s) => {
    const def = s._zod.def as unknown as WalkableDef;
    return def.type === 'object' ? Object.keys(def.shape!) : [];
  });
  return [...new Set(keys)];
}

/** What to say about an unknown key: the closest known key when one is close, else the known keys. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  if (known.length === 0) return 'unknown key';
  const scored = known
    .map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d);
  const best = scored[0]!;
  // One edit for short keys (`ur` for url), more for longer ones (`emial` for email, `processdDir`).
  const near = key.length <= 3 ? 1 : Math.max(2, Math.floor(key.length / 3));
  if (best.d <= near) return `unknown key; did you mean ${best.k}?`;
  return `unknown key; expected one of: ${known.join(', ')}`;
}

/** Keys whose values are never echoed in a message. */
const SECRET_KEY = /password|passphrase|secret|token|privatekey|apikey|authorization|credential|^auth$/i;

function valueAt(value: unknown, keys: KeyPath): unknown {
  let at = value;
  for (const key of keys) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/** The longest value quoted in a message (a long SQL text is cut). */
const MAX_SHOWN = 100;

/** ` (found "x")` for a scalar, ` (missing)`, or nothing (an object, or a secret). */
function found(value: unknown, keys: KeyPath): string {
  if (keys.some((key) => typeof key === 'string' && SECRET_KEY.test(key))) return '';
  const at = valueAt(value, keys);
  if (at === undefined) return ' (missing)';
  if (at !== null && typeof at === 'object') return '';
  // A URL's password (`mysql://user:secret@host`) stays out of messages.
  let shown = typeof at === 'string' ? at.replace(/(:\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@') : at;
  if (typeof shown === 'string' && shown.length > MAX_SHOWN) shown = `${shown.slice(0, MAX_SHOWN)}…`;
  return ` (found ${JSON.stringify(shown)})`;
}

function setAt(value: unknown, keys: KeyPath, replacement: unknown): unknown {
  if (keys.length === 0) return replacement;
  const [key, ...rest] = keys as [string | number, ...(string | number)[]];
  const copy = (
    Array.isArray(value) ? [...(value as unknown[])] : { ...(value as Record<string | number, unknown>) }
  ) as Record<string | number, unknown>;
  copy[key] = setAt(copy[key], rest, replacement);
  return copy;
}

/**
 * Zod issues as problems under `at`. An unknown key is a problem of its own, at the key, with a
 * suggestion; a union's bare "Invalid input" is replaced by what its most specific branch said.
 */
function toProblems(
  issues: readonly Issue[],
  schema: z.core.$ZodType,
  value: unknown,
  at: KeyPath,
  within: KeyPath = [],
): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    const rel = [...within, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      const here = schemasAt(schema, rel);
      const places = here.map(renamedKeysPlace).filter((p) => p !== undefined);
      const held = valueAt(value, rel);
      const siblings = isMapping(held) ? held : {};
      return issue.keys.map((key) => ({
        path: [...at, ...rel, key],
        message: renamedKeyMessage(places, key, siblings) ?? unknownKeyMessage(key, knownKeysAt(here)),
        onKey: true,
      }));
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const informative = issue.errors.filter((branch) =>
        branch.some((i) => i.path.length > 0 || (i.code !== 'invalid_type' && i.code !== 'invalid_value')),
      );
      const pick = informative[informative.length - 1];
      if (pick) return toProblems(pick, schema, value, at, rel);
    }
    const current = valueAt(value, rel);
    let message = issue.message.replace(/^Invalid input: /, '');
    if (
      issue.code === 'invalid_type' &&
      current === undefined &&
      /^expected \w+, received undefined$/.test(message)
    )
      return [
        { path: [...at, ...rel], message: `missing (${message.replace(/, received undefined$/, '')})` },
      ];
    message += found(value, rel);
    return [{ path: [...at, ...rel], message }];
  });
}

const NUMBER_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Validates `value` (at key path `at` of the file) against `schema`. Where the schema wants a number or a
 * boolean and finds text that came from `${VAR}`, it reads the text as one: the environment only gives
 * text, and only the schema knows which fields are numbers (a numeric password stays text).
 */
export function checkConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  options: { at?: KeyPath; fromEnv?: ReadonlySet<string> } = {},
): { ok: true; data: z.output<S> } | { ok: false; problems: ConfigProblem[] } {
  const at = options.at ?? [];
  const fromEnv = options.fromEnv ?? new Set<string>();
  let current = value;
  let parsed = schema.safeParse(current);
  for (let round = 0; !parsed.success && round < 20; round++) {
    let changed = false;
    for (const issue of parsed.error.issues) {
      if (issue.code !== 'invalid_type' || issue.path.length === 0) continue;
      const rel = issue.path as (string | number)[];
      const text = valueAt(current, rel);
      if (typeof text !== 'string' || !fromEnv.has(pathKey([...at, ...rel]))) continue;
      if (issue.expected === 'number' && NUMBER_TEXT.test(text.trim())) {
        current = setAt(current, rel, Number(text.trim()));
        changed = true;
      } else if (issue.expected === 'boolean' && /^(true|false)$/.test(text.trim())) {
        current = setAt(current, rel, text.trim() === 'true');
        changed = true;
      }
    }
    if (!changed) break;
    parsed = schema.safeParse(current);
  }
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, problems: toProblems(parsed.error.issues, schema, current, at) };
}

// ---- reporting ---------------------------------------------------------------------------------------

const ENV_HINT = 'Set the variables, or give a default in the file as ${NAME:-default}.';

/** What to tell the user to do: about unset variables, and about anything else. */
export interface Hints {
  envHint?: string;
  hint?: string;
}

/**
 * One error for every problem of a file, naming the file once. A single problem reads
 * `file:line:col: key.path: what (found …)`; several are listed under `file: <what> (N problems):`, each
 * as `line:col key.path: what`, in the order of the file. ENV_MISSING when every problem is an unset
 * variable, CONFIG_INVALID otherwise.
 */
export function configError(
  problems: readonly ConfigProblem[],
  options: { file: string; what: string; locate?: Locate | undefined } & Hints,
): SluiceError {
  const { file, locate } = options;
  const located = problems
    .map((p, order) => ({ p, order, pos: p.position ?? locate?.(p.path, p.onKey ? 'key' : 'value') }))
    .sort((a, b) =>
      a.pos && b.pos
        ? a.pos.line - b.pos.line || a.pos.col - b.pos.col || a.order - b.order
        : a.order - b.order,
    );
  const onlyEnv = problems.every((p) => p.unsetEnv);
  const code: ErrorCode = onlyEnv ? 'ENV_MISSING' : 'CONFIG_INVALID';
  const hintText = problems.some((p) => p.unsetEnv) ? (options.envHint ?? ENV_HINT) : options.hint;
  const hint = hintText ? { hint: hintText } : {};
  const text = (p: ConfigProblem) =>
    p.path.length > 0 ? `${formatKeyPath(p.path)}: ${p.message}` : p.message;
  if (located.length === 1) {
    const { p, pos } = located[0]!;
    return new SluiceError(code, text(p), { where: pos ? `${file}:${pos.line}:${pos.col}` : file, ...hint });
  }
  const what = onlyEnv ? 'environment variables are not set' : options.what;
  const lines = located.map(({ p, pos }) => `  ${pos ? `${pos.line}:${pos.col} ` : ''}${text(p)}`);
  return new SluiceError(code, `${what} (${located.length} problems):\n${lines.join('\n')}`, {
    where: file,
    ...hint,
  });
}

// ---- a configuration being read ----------------------------------------------------------------------

/** How an unset variable counts: an error (to run), or a warning (to lint a file without its secrets). */
export type UnsetEnv = 'error' | 'warn';

export interface ConfigOptions {
  /** Named in messages; relative paths in the file are read from its folder. */
  file: string;
  /** Fills `${VAR}` references; without it, values are taken as they are. */
  env?: Env;
  unsetEnv?: UnsetEnv;
  /** Where relative paths are read from: the file's folder by default (the working directory for `<inline>`). */
  baseDir?: string;
  /** Leave relative paths as written (a definition kept in the database has no folder to be read from). */
  keepPaths?: boolean;
}

/**
 * A configuration being read: its value with `${VAR}` filled, the problems found so far and the
 * warnings. Readers check sections with {@link ConfigReader.check} and end with {@link ConfigReader.finish}.
 */
export class ConfigReader {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  readonly file: string;
  readonly baseDir: string;
  /** As written, before interpolation. */
  readonly raw: unknown;
  /** With `${VAR}` filled in. */
  readonly value: unknown;
  private readonly fromEnv: ReadonlySet<string>;
  private readonly unsetPaths: KeyPath[];
  private readonly locate: Locate | undefined;
  private readonly keepPaths: boolean;

  private constructor(raw: unknown, options: ConfigOptions, locate?: Locate) {
    this.file = options.file;
    this.keepPaths = options.keepPaths === true;
    this.raw = raw;
    this.locate = locate;
    this.baseDir =
      options.baseDir ??
      (options.file === '<inline>' ? process.cwd() : path.dirname(path.resolve(options.file)));
    if (options.env) {
      const filled = interpolateConfig(raw, options.env);
      this.value = filled.value;
      this.fromEnv = filled.fromEnv;
      this.unsetPaths = filled.unset.map((u) => u.path);
      for (const { path: at, name } of filled.unset) {
        const message = `environment variable ${name} is not set`;
        if (options.unsetEnv === 'warn') this.warnings.push(this.describe({ path: at, message }));
        else this.problems.push({ path: at, message, unsetEnv: true });
      }
    } else {
      this.value = raw;
      this.fromEnv = new Set();
      this.unsetPaths = [];
    }
  }

  /** Reads YAML text (throws CONFIG_INVALID at once when the YAML itself is refused). */
  static fromText(text: string, options: ConfigOptions): ConfigReader {
    const yaml = parseYamlConfig(text, options.file);
    return new ConfigReader(yaml.raw, options, yaml.locate);
  }

  /** Takes a value already read (a definition kept in the database, a pipeline built in code). */
  static fromValue(value: unknown, options: ConfigOptions): ConfigReader {
    return new ConfigReader(value, options);
  }

  /** `file:line:col: key.path: message`, for a warning. */
  describe(problem: ConfigProblem): string {
    const pos = problem.position ?? this.locate?.(problem.path, problem.onKey ? 'key' : 'value');
    const where = pos ? `${this.file}:${pos.line}:${pos.col}` : this.file;
    return `${where}: ${problem.path.length > 0 ? `${formatKeyPath(problem.path)}: ` : ''}${problem.message}`;
  }

  /** Adds a problem, unless it is about a value that depends on an unset variable (already reported). */
  add(problem: ConfigProblem): void {
    if (!problem.unsetEnv && this.dependsOnUnsetEnv(problem.path)) return;
    this.problems.push(problem);
  }

  /** True when the value at `keys` (or one it is part of) holds a reference to an unset variable. */
  dependsOnUnsetEnv(keys: KeyPath): boolean {
    return this.unsetPaths.some((u) => u.length <= keys.length && u.every((k, i) => keys[i] === k));
  }

  /** The problems `schema` finds in `value` (the section at key path `at`), without recording them. */
  trial<S extends z.ZodType>(schema: S, value: unknown, at: KeyPath) {
    const result = checkConfig(schema, this.resolve(schema, value), {
      at,
      fromEnv: this.fromEnv,
    });
    return result.ok
      ? result
      : { ok: false as const, problems: result.problems.filter((p) => !this.dependsOnUnsetEnv(p.path)) };
  }

  /**
   * Validates the section at key path `at` (relative paths resolved first); its problems are recorded.
   * Returns the parsed value, or undefined when it has problems.
   */
  check<S extends z.ZodType>(schema: S, value: unknown, at: KeyPath): z.output<S> | undefined {
    const result = checkConfig(schema, this.resolve(schema, value), {
      at,
      fromEnv: this.fromEnv,
    });
    if (result.ok) return result.data;
    for (const problem of result.problems) this.add(problem);
    return undefined;
  }

  private resolve(schema: z.ZodType, value: unknown): unknown {
    return this.keepPaths ? value : resolvePaths(schema, value, this.baseDir);
  }

  /** Throws every problem at once (see {@link configError}); `what` heads a list, such as "the pipeline is invalid". */
  finish(what: string, hints: Hints = {}): void {
    if (this.problems.length > 0)
      throw configError(this.problems, { file: this.file, what, locate: this.locate, ...hints });
  }
}

/** What {@link loadConfig} gives: the validated value, the value as written, and the warnings. */
export interface LoadedConfig<T> {
  value: T;
  raw: unknown;
  warnings: string[];
}

/**
 * The one config loader: YAML text, its schema, its file name and the environment give the validated
 * value (relative paths read from the file's folder), or one error listing every problem with
 * `file:line:col key.path`. `what` heads the list ("the import rules are invalid").
 */
export function loadConfig<S extends z.ZodType>(
  text: string,
  schema: S,
  options: ConfigOptions & { env: Env; what: string },
): LoadedConfig<z.output<S>> {
  const reader = ConfigReader.fromText(text, options);
  const value = reader.check(schema, reader.value, []);
  reader.finish(options.what);
  return { value: value as z.output<S>, raw: reader.raw, warnings: reader.warnings };
}
