import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { interpolateEnv } from '../../../core/env.js';
import { SluiceError } from '../../../core/errors.js';
import type { InboxRule } from '../../../core/mail-store.js';
import { checkConnection, connectionShape, type ConnectionOptions } from './connection.js';
import { ruleShape } from './rules.js';

type Env = Record<string, string | undefined>;

/** A mail account: a name and how to reach and log in to its mailbox (the imap source's settings). */
export const accountSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, 'an account name is letters, digits, _, ., @ and -')
      .describe('The name rules and `sluice inbox poll --account` refer to.'),
    ...connectionShape,
  })
  .superRefine(checkConnection);

export type AccountSpec = z.output<typeof accountSchema>;

/** A rule of `sluice.inbox_rules`: an inline rule plus its account, its folder and whether it is on. */
export const tableRuleSchema = z.strictObject({
  ...ruleShape,
  account: z.string().min(1).describe('The account whose mail the rule applies to.'),
  targetFolder: ruleShape.targetFolder.unwrap(),
  active: z.boolean().default(true).describe('An inactive rule is kept but not used.'),
});

export interface LoadedAccount {
  /** As written: what `sluice.mail_accounts` keeps, so no secret from the environment is stored. */
  definition: Record<string, unknown>;
  /** Validated with the environment of the loading process. */
  spec: AccountSpec;
}

export interface InboxFile {
  accounts: LoadedAccount[];
  rules: (InboxRule & { account: string })[];
}

/** `${VAR}` references of every string of a value replaced; the unset ones listed with their path. */
function interpolate(
  value: unknown,
  env: Env,
  at: (string | number)[],
  missing: (string | number)[][],
): unknown {
  if (typeof value === 'string') {
    const result = interpolateEnv(value, env);
    for (const name of result.missing) missing.push([...at, `\${${name}}`]);
    return result.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...at, i], missing));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...at, k], missing)]),
    );
  return value;
}

/**
 * Reads an inbox file: `accounts:` (connection settings; `${VAR}` references kept as written for the
 * table and checked against `env`) and `rules:` (interpolated; a relative targetFolder is taken from the
 * file's folder). Throws CONFIG_INVALID listing every problem as `file:line:col key.path: message`, or
 * ENV_MISSING.
 */
export function parseInboxYaml(text: string, options: { file: string; env: Env }): InboxFile {
  const { file, env } = options;
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
  const where = (keyPath: (string | number)[]) => {
    const node = nodeAt(doc, keyPath);
    return `${at(node?.range?.[0])} ${formatPath(keyPath)}`;
  };
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new SluiceError('CONFIG_INVALID', 'an inbox file is a mapping with `accounts:` and/or `rules:`', {
      where: file,
    });
  const { accounts = [], rules = [], ...others } = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(others))
    problems.push(`${where([key])}: unknown key; an inbox file has accounts and rules`);
  if (!Array.isArray(accounts)) problems.push(`${where(['accounts'])}: a list of accounts`);
  if (!Array.isArray(rules)) problems.push(`${where(['rules'])}: a list of rules`);
  if (problems.length === 0 && (accounts as unknown[]).length + (rules as unknown[]).length === 0)
    problems.push(`${file}: nothing to load: give accounts:, rules: or both`);

  const missing: (string | number)[][] = [];
  const loadedAccounts: LoadedAccount[] = [];
  const accountNames = new Set<string>();
  for (const [i, definition] of (Array.isArray(accounts) ? accounts : []).entries()) {
    const value = interpolate(definition, env, ['accounts', i], missing);
    const parsed = accountSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${where(['accounts', i, ...issue.path.map(keyOf)])}: ${issue.message}`);
      continue;
    }
    if (accountNames.has(parsed.data.name))
      problems.push(`${where(['accounts', i, 'name'])}: account ${parsed.data.name} is given twice`);
    accountNames.add(parsed.data.name);
    loadedAccounts.push({ definition: definition as Record<string, unknown>, spec: parsed.data });
  }

  const loadedRules: InboxFile['rules'] = [];
  const ruleNames = new Set<string>();
  const folder = path.dirname(path.resolve(file));
  for (const [i, definition] of (Array.isArray(rules) ? rules : []).entries()) {
    const value = interpolate(definition, env, ['rules', i], missing);
    const parsed = tableRuleSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${where(['rules', i, ...issue.path.map(keyOf)])}: ${issue.message}`);
      continue;
    }
    const rule = parsed.data;
    if (ruleNames.has(rule.name))
      problems.push(`${where(['rules', i, 'name'])}: rule ${rule.name} is given twice`);
    ruleNames.add(rule.name);
    loadedRules.push({ ...rule, targetFolder: path.resolve(folder, rule.targetFolder) });
  }

  if (missing.length > 0)
    throw new SluiceError(
      'ENV_MISSING',
      missing.map((p) => `${where(p.slice(0, -1))}: ${String(p.at(-1))} is not set`).join('\n'),
      { where: file, hint: 'Set the variables, or give a default as ${VAR:-default}.' },
    );
  if (problems.length > 0)
    throw new SluiceError('CONFIG_INVALID', `the inbox file is invalid:\n${problems.join('\n')}`, {
      where: file,
    });
  return { accounts: loadedAccounts, rules: loadedRules };
}

/** Validates a saved account's definition with the environment of the polling process. */
export function parseAccountDefinition(
  definition: unknown,
  env: Env,
  name: string,
): ConnectionOptions & { name: string } {
  const missing: (string | number)[][] = [];
  const value = interpolate(definition, env, [], missing);
  const where = `account ${name}`;
  if (missing.length > 0)
    throw new SluiceError(
      'ENV_MISSING',
      missing
        .map((p) => `${formatPath(p.slice(0, -1)) || 'account'}: ${String(p.at(-1))} is not set`)
        .join('\n'),
      { where, hint: 'Set the variables in the environment of the process that polls.' },
    );
  const parsed = accountSchema.safeParse(value);
  if (!parsed.success)
    throw new SluiceError(
      'CONFIG_INVALID',
      `the saved account is invalid:\n${parsed.error.issues.map((i) => `${formatPath(i.path.map(keyOf)) || 'account'}: ${i.message}`).join('\n')}`,
      { where, hint: 'Load it again with `sluice inbox load FILE.yaml`.' },
    );
  return parsed.data;
}

const keyOf = (k: PropertyKey) => (typeof k === 'number' ? k : String(k));

/** `accounts[0].auth.clientId` */
function formatPath(p: readonly (string | number)[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** The deepest node that exists along a path, for a line number. */
function nodeAt(doc: Document, keyPath: readonly (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = (doc.contents as Node | null) ?? undefined;
  for (const key of keyPath) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      node = pair.value;
      found = (
        isScalar(pair.value) || isMap(pair.value) || isSeq(pair.value) ? pair.value : pair.key
      ) as Node;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (!node) break;
      found = node as Node;
    } else break;
  }
  return found;
}
