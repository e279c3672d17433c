import type { Command } from 'commander';
import { errorMessage, SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import { openMailbox } from '../plugins/sources/imap/connection.js';
import { parseAccountDefinition, parseInboxYaml } from '../plugins/sources/imap/inbox-file.js';
import { feedInbox, type FeedResult } from '../plugins/sources/imap/poller.js';
import { compileRules } from '../plugins/sources/imap/rules.js';
import type { Database } from '../store/database.js';
import {
  createMailStore,
  getMailAccount,
  listAccountStatus,
  listInboxRules,
  listMailAccountNames,
  saveInbox,
  setInboxRuleActive,
} from '../store/mail-store.js';
import { readConfigText } from '../core/config-text.js';
import { EXIT, withStore } from './shared.js';
import { plural } from './format.js';

const HOW_TO_ADD =
  'Add accounts and rules with `sluice inbox load FILE.yaml` (an `accounts:` and a `rules:` list; docs/mail.md shows one).';

function cliLogger(verbose: boolean): Logger {
  return {
    debug: (message) => (verbose ? process.stderr.write(`debug: ${message}\n`) : undefined),
    info: (message) => (verbose ? process.stderr.write(`${message}\n`) : undefined),
    warn: (message) => process.stderr.write(`warn: ${message}\n`),
    error: (message) => process.stderr.write(`error: ${message}\n`),
  };
}

export function registerInbox(program: Command, exit: (code: number) => void) {
  const inbox = program
    .command('inbox')
    .description('Mail in: accounts and inbox rules, and polling them into folders');

  inbox
    .command('load <file>')
    .description('Validate an inbox file (`accounts:` and `rules:`) and save it in the database')
    .action(async (file: string) => {
      const loaded = parseInboxYaml(await readConfigText(file), { file, env: process.env });
      await withStore((db) =>
        saveInbox(
          db,
          loaded.accounts.map((a) => ({ name: a.spec.name, definition: a.definition })),
          loaded.rules,
        ),
      );
      const names = (list: { name: string }[]) => list.map((x) => x.name).join(', ');
      process.stdout.write(
        `loaded ${plural(loaded.accounts.length, 'account')}${loaded.accounts.length ? `: ${names(loaded.accounts.map((a) => a.spec))}` : ''}; ` +
          `${plural(loaded.rules.length, 'rule')}${loaded.rules.length ? `: ${names(loaded.rules)}` : ''}\n`,
      );
    });

  inbox
    .command('list')
    .description('List the inbox rules')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const rules = await withStore((db) => listInboxRules(db), { existing: true });
      if (flags.json) {
        process.stdout.write(JSON.stringify(rules, null, 2) + '\n');
        return;
      }
      if (rules.length === 0) process.stdout.write(`no inbox rule is saved.\n${HOW_TO_ADD}\n`);
      for (const r of rules) {
        const match = [
          r.subject !== undefined ? `subject /${r.subject}/` : '',
          r.sender !== undefined ? `sender /${r.sender}/` : '',
          r.hasAttachment !== undefined ? (r.hasAttachment ? 'with attachment' : 'without attachment') : '',
          r.attachment !== undefined ? `attachment /${r.attachment}/` : '',
        ]
          .filter(Boolean)
          .join(', ');
        process.stdout.write(
          `${r.name.padEnd(20)} ${(r.account ?? '').padEnd(14)} ${String(r.priority).padStart(4)} ${(r.active ? 'active' : 'inactive').padEnd(9)} ${match || 'any message'} -> ${r.targetFolder ?? '-'}\n`,
        );
      }
    });

  inbox
    .command('status')
    .description('Each account with its rules, messages handled and last successful poll')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const accounts = await withStore((db) => listAccountStatus(db), { existing: true });
      if (flags.json) {
        process.stdout.write(JSON.stringify(accounts, null, 2) + '\n');
        return;
      }
      if (accounts.length === 0) process.stdout.write(`no mail account is known yet.\n${HOW_TO_ADD}\n`);
      for (const a of accounts) {
        process.stdout.write(
          `${a.account.padEnd(20)} ${plural(a.activeRules, 'active rule').padStart(15)} ${plural(a.messagesHandled, 'message').padStart(14)} handled  last poll ok: ${a.lastSuccessAt ?? 'never'}${a.lastError ? `  last error (${a.lastAttemptAt}): ${a.lastError}` : ''}\n`,
        );
      }
    });

  for (const [command, active] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    inbox
      .command(`${command} <rule>`)
      .description(`${active ? 'Use' : 'Stop using'} an inbox rule (it is kept)`)
      .action(async (name: string) => {
        const found = await withStore((db) => setInboxRuleActive(db, name, active), { existing: true });
        if (!found)
          throw new SluiceError('CONFIG_NOT_FOUND', `no inbox rule is named ${name}`, {
            hint: '`sluice inbox list` shows the rules.',
          });
        process.stdout.write(`rule ${name} ${active ? 'enabled' : 'disabled'}\n`);
      });
  }

  inbox
    .command('poll')
    .description(
      "Scan each account's mailbox against its rules: write matching attachments and the .eml into the " +
        "rule's folder, then move the message to Processed (no rule: to Error)",
    )
    .option('--account <name>', 'only this account')
    .option('-v, --verbose', 'say what is done to each message')
    .action(async (flags: { account?: string; verbose?: boolean }) => {
      const logger = cliLogger(flags.verbose ?? false);
      const results = await withStore((db) => pollAccounts(db, flags.account, logger), { existing: true });
      let failed = false;
      for (const r of results) {
        if ('error' in r) {
          failed = true;
          process.stdout.write(`${r.account}: poll failed: ${r.error}\n`);
          continue;
        }
        const x = r.result;
        if (x.failed.length) failed = true;
        process.stdout.write(
          `${r.account}: ${plural(x.handled, 'message')} handled (${plural(x.files, 'file')}), ${x.unmatched} to Error, ${x.alreadyHandled} handled before` +
            (x.copies
              ? `, ${plural(x.copies, 'duplicate')} (same Message-ID) moved with the first copy`
              : '') +
            (x.failed.length ? `, ${x.failed.length} left in the mailbox after an error` : '') +
            '\n',
        );
        for (const w of x.written) process.stdout.write(`  ${w.folder}/${w.name}\n`);
      }
      if (failed) exit(EXIT.failed);
    });
}

export type PollOutcome = { account: string; result: FeedResult } | { account: string; error: string };

/**
 * Polls the saved accounts (or one) in feeder mode; a failure of one account is recorded and the others
 * go on. Each account polls under a lock, so two overlapping polls (cron) never handle a message twice.
 */
export async function pollAccounts(
  db: Database,
  only: string | undefined,
  logger: Logger,
): Promise<PollOutcome[]> {
  const names = await listMailAccountNames(db, only);
  if (names.length === 0)
    throw new SluiceError(
      'CONFIG_NOT_FOUND',
      only ? `no mail account is named ${only}` : 'no mail account is saved',
      { hint: `${HOW_TO_ADD} \`sluice inbox status\` lists the accounts.` },
    );
  const store = createMailStore(db);
  const outcomes: PollOutcome[] = [];
  for (const name of names) {
    const lock = await db.tryLock(`sluice:inbox:${name}`);
    if (!lock) {
      outcomes.push({ account: name, error: 'another poll of this account is running' });
      continue;
    }
    try {
      const definition = await getMailAccount(db, name);
      const account = parseAccountDefinition(definition, process.env, name);
      const rules = await store.rules(name);
      if (rules.length === 0) {
        outcomes.push({ account: name, error: 'it has no active inbox rules (nothing is moved)' });
        continue;
      }
      const mailbox = await openMailbox(account, { logger, signal: new AbortController().signal });
      try {
        const result = await feedInbox(mailbox, compileRules(rules), {
          account: name,
          store,
          processedMailbox: account.processedMailbox,
          errorMailbox: account.errorMailbox,
          logger,
        });
        await store.recordPoll(name, {
          ok: true,
          counts: {
            handled: result.handled,
            unmatched: result.unmatched,
            alreadyHandled: result.alreadyHandled,
            files: result.files,
          },
        });
        outcomes.push({ account: name, result });
      } finally {
        await mailbox.close();
      }
    } catch (error) {
      const message = errorMessage(error);
      await store.recordPoll(name, { ok: false, error: message });
      if (error instanceof SluiceError && (error.code === 'ENV_MISSING' || error.code === 'CONFIG_INVALID'))
        throw error;
      outcomes.push({ account: name, error: message });
    } finally {
      await lock.release();
    }
  }
  return outcomes;
}
