import { z } from 'zod';
import { ConfigReader } from '../../../core/config-file.js';
import type { InboxRule } from '../../../core/mail-store.js';
import { withRenamedKeys } from '../../../core/renamed-keys.js';
import { checkConnection, connectionShape, type ConnectionOptions } from './connection.js';
import { ruleShape } from './rules.js';

type Env = Record<string, string | undefined>;

/** A mail account: a name and how to reach and log in to its mailbox (the imap source's settings). */
export const accountSchema = withRenamedKeys(
  'inboxAccount',
  z
    .strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, 'an account name is letters, digits, _, ., @ and -')
        .describe('The name rules and `sluice inbox poll --account` refer to.'),
      ...connectionShape,
    })
    .superRefine(checkConnection),
);

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

const inboxFileSchema = z
  .strictObject({
    accounts: z
      .array(z.unknown())
      .default([])
      .describe('Mail accounts: a name and how to reach the mailbox.'),
    rules: z.array(z.unknown()).default([]).describe('Inbox rules, each for one account.'),
  })
  .refine((f) => f.accounts.length + f.rules.length > 0, 'nothing to load: give accounts:, rules: or both');

/**
 * Reads an inbox file: `accounts:` (connection settings; `${VAR}` references kept as written for the
 * table and checked against `env`) and `rules:` (interpolated; a relative targetFolder is read from the
 * file's folder). Throws CONFIG_INVALID listing every problem as `line:col key.path: message`, or
 * ENV_MISSING.
 */
export function parseInboxYaml(text: string, options: { file: string; env: Env }): InboxFile {
  const reader = ConfigReader.fromText(text, { file: options.file, env: options.env });
  const file = reader.check(inboxFileSchema, reader.value, []);
  const raw = reader.raw as { accounts?: unknown[] };

  const accounts: LoadedAccount[] = [];
  const accountNames = new Set<string>();
  for (const [i, value] of (file?.accounts ?? []).entries()) {
    const spec = reader.check(accountSchema, value, ['accounts', i]);
    if (!spec) continue;
    if (accountNames.has(spec.name))
      reader.add({ path: ['accounts', i, 'name'], message: `account ${spec.name} is given twice` });
    accountNames.add(spec.name);
    accounts.push({ definition: raw.accounts![i] as Record<string, unknown>, spec });
  }

  const rules: InboxFile['rules'] = [];
  const ruleNames = new Set<string>();
  for (const [i, value] of (file?.rules ?? []).entries()) {
    const rule = reader.check(tableRuleSchema, value, ['rules', i]);
    if (!rule) continue;
    if (ruleNames.has(rule.name))
      reader.add({ path: ['rules', i, 'name'], message: `rule ${rule.name} is given twice` });
    ruleNames.add(rule.name);
    rules.push(rule);
  }
  reader.finish('the inbox file is invalid');
  return { accounts, rules };
}

/** Validates a saved account's definition with the environment of the polling process. */
export function parseAccountDefinition(
  definition: unknown,
  env: Env,
  name: string,
): ConnectionOptions & { name: string } {
  const reader = ConfigReader.fromValue(definition, { file: `account ${name}`, env, keepPaths: true });
  const account = reader.check(accountSchema, reader.value, []);
  reader.finish('the saved account is invalid', {
    envHint: 'Set the variables in the environment of the process that polls.',
    hint: 'Load it again with `sluice inbox load FILE.yaml`.',
  });
  return account!;
}
