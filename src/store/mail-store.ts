import type { HandledMessage, InboxRule, MailStore, PollCounts } from '../core/mail-store.js';
import type { SqlClient } from '../core/sql.js';
import type { Database } from './database.js';

interface RuleRow {
  name: string;
  account: string;
  subject: string | null;
  sender: string | null;
  has_attachment: boolean | null;
  attachment: string | null;
  target_folder: string | null;
  priority: number;
  active: boolean;
  updated_at: string;
}

function toRule(r: RuleRow): InboxRule {
  return {
    name: r.name,
    account: r.account,
    ...(r.subject !== null ? { subject: r.subject } : {}),
    ...(r.sender !== null ? { sender: r.sender } : {}),
    ...(r.has_attachment !== null ? { hasAttachment: r.has_attachment } : {}),
    ...(r.attachment !== null ? { attachment: r.attachment } : {}),
    ...(r.target_folder !== null ? { targetFolder: r.target_folder } : {}),
    priority: r.priority,
    active: r.active,
  };
}

const RULE_COLUMNS =
  'name, account, subject, sender, has_attachment, attachment, target_folder, priority, active, updated_at::text AS updated_at';

/** The mail tables (migration 003) behind the {@link MailStore} a mail source sees. */
export function createMailStore(db: SqlClient): MailStore {
  return {
    async rules(account) {
      const { rows } = await db.query<RuleRow>(
        `SELECT ${RULE_COLUMNS} FROM sluice.inbox_rules WHERE account = $1 AND active ORDER BY priority, name`,
        [account],
      );
      return rows.map(toRule);
    },
    async handled(account, messageIds) {
      if (messageIds.length === 0) return new Set();
      const { rows } = await db.query<{ message_id: string }>(
        'SELECT message_id FROM sluice.mail_messages WHERE account = $1 AND message_id = ANY($2::text[])',
        [account, messageIds],
      );
      return new Set(rows.map((r) => r.message_id));
    },
    async recordHandled(m: HandledMessage) {
      await db.query(
        `INSERT INTO sluice.mail_messages (account, message_id, mailbox, subject, sender, sent_at, rule, files)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT (account, message_id) DO NOTHING`,
        [
          m.account,
          m.messageId,
          m.mailbox,
          m.subject ?? null,
          m.sender ?? null,
          m.sentAt && !Number.isNaN(m.sentAt.getTime()) ? m.sentAt.toISOString() : null,
          m.rule ?? null,
          JSON.stringify(m.files),
        ],
      );
    },
    async recordPoll(account, outcome) {
      if (outcome.ok) {
        await db.query(
          `INSERT INTO sluice.mail_polls (account, last_attempt_at, last_success_at, last_error, last_counts)
           VALUES ($1, now(), now(), NULL, $2::jsonb)
           ON CONFLICT (account) DO UPDATE SET last_attempt_at = now(), last_success_at = now(),
             last_error = NULL, last_counts = EXCLUDED.last_counts`,
          [account, JSON.stringify(outcome.counts)],
        );
      } else {
        await db.query(
          `INSERT INTO sluice.mail_polls (account, last_attempt_at, last_error) VALUES ($1, now(), $2)
           ON CONFLICT (account) DO UPDATE SET last_attempt_at = now(), last_error = EXCLUDED.last_error`,
          [account, outcome.error],
        );
      }
    },
  };
}

/** A rule ready to save: the table's columns. */
export type SavedRule = InboxRule & { account: string };

/** An account as saved: its name and its definition as written (environment references kept). */
export interface SavedAccount {
  name: string;
  definition: Record<string, unknown>;
}

/** Inserts or replaces accounts and rules, in one transaction. */
export async function saveInbox(
  db: Database,
  accounts: readonly SavedAccount[],
  rules: readonly SavedRule[],
): Promise<void> {
  await db.transaction(async (tx) => {
    for (const a of accounts) {
      await tx.query(
        `INSERT INTO sluice.mail_accounts (name, definition, updated_at) VALUES ($1, $2::jsonb, now())
         ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now()`,
        [a.name, JSON.stringify(a.definition)],
      );
    }
    for (const r of rules) {
      await tx.query(
        `INSERT INTO sluice.inbox_rules
           (name, account, subject, sender, has_attachment, attachment, target_folder, priority, active, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         ON CONFLICT (name) DO UPDATE SET account = EXCLUDED.account, subject = EXCLUDED.subject,
           sender = EXCLUDED.sender, has_attachment = EXCLUDED.has_attachment, attachment = EXCLUDED.attachment,
           target_folder = EXCLUDED.target_folder, priority = EXCLUDED.priority, active = EXCLUDED.active,
           updated_at = now()`,
        [
          r.name,
          r.account,
          r.subject ?? null,
          r.sender ?? null,
          r.hasAttachment ?? null,
          r.attachment ?? null,
          r.targetFolder ?? null,
          r.priority,
          r.active ?? true,
        ],
      );
    }
  });
}

/** Every rule (active or not), by account, priority and name. */
export async function listInboxRules(db: SqlClient): Promise<(InboxRule & { updatedAt: string })[]> {
  const { rows } = await db.query<RuleRow>(
    `SELECT ${RULE_COLUMNS} FROM sluice.inbox_rules ORDER BY account, priority, name`,
  );
  return rows.map((r) => ({ ...toRule(r), updatedAt: r.updated_at }));
}

/** Turns a rule on or off; false when no rule has that name. */
export async function setInboxRuleActive(db: SqlClient, name: string, active: boolean): Promise<boolean> {
  const result = await db.query(
    'UPDATE sluice.inbox_rules SET active = $2, updated_at = now() WHERE name = $1',
    [name, active],
  );
  return result.rowCount > 0;
}

/** A saved account's definition as written, or undefined. */
export async function getMailAccount(
  db: SqlClient,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const { rows } = await db.query<{ definition: Record<string, unknown> }>(
    'SELECT definition FROM sluice.mail_accounts WHERE name = $1',
    [name],
  );
  return rows[0]?.definition;
}

/** The names of the saved accounts (or of the one named `only`, when saved), by name. */
export async function listMailAccountNames(db: SqlClient, only?: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    'SELECT name FROM sluice.mail_accounts WHERE $1::text IS NULL OR name = $1 ORDER BY name',
    [only ?? null],
  );
  return rows.map((r) => r.name);
}

/**
 * When each account's mail was last polled successfully (a pipeline's listing or `sluice inbox poll`), by
 * account; an account that was polled but never successfully is there with null. The liveness of mail in:
 * the service exports it as a metric.
 */
export async function lastSuccessfulPolls(db: SqlClient): Promise<Map<string, Date | null>> {
  // Milliseconds since the epoch: timestamps come back as text, whose format Date does not promise to read.
  const { rows } = await db.query<{ account: string; last_success_ms: number | null }>(
    `SELECT account, (extract(epoch FROM last_success_at) * 1000)::float8 AS last_success_ms
       FROM sluice.mail_polls ORDER BY account`,
  );
  return new Map(
    rows.map((r) => [r.account, r.last_success_ms === null ? null : new Date(r.last_success_ms)]),
  );
}

/** One account with its last poll, for `sluice inbox status`. */
export interface AccountStatus {
  account: string;
  /** Whether its connection settings are in `sluice.mail_accounts` (pipelines may poll others). */
  saved: boolean;
  activeRules: number;
  messagesHandled: number;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastCounts: Partial<PollCounts>;
}

/** Every account known from accounts, rules, polls or the ledger, with its last poll. */
export async function listAccountStatus(db: SqlClient): Promise<AccountStatus[]> {
  const { rows } = await db.query<{
    account: string;
    saved: boolean;
    active_rules: number;
    messages_handled: number;
    last_attempt_at: string | null;
    last_success_at: string | null;
    last_error: string | null;
    last_counts: Partial<PollCounts> | null;
  }>(
    `WITH names AS (
       SELECT name AS account FROM sluice.mail_accounts
       UNION SELECT account FROM sluice.inbox_rules
       UNION SELECT account FROM sluice.mail_polls
       UNION SELECT DISTINCT account FROM sluice.mail_messages)
     SELECT n.account,
            EXISTS (SELECT 1 FROM sluice.mail_accounts a WHERE a.name = n.account) AS saved,
            (SELECT count(*)::int FROM sluice.inbox_rules r WHERE r.account = n.account AND r.active) AS active_rules,
            (SELECT count(*)::int FROM sluice.mail_messages m WHERE m.account = n.account) AS messages_handled,
            p.last_attempt_at::text AS last_attempt_at, p.last_success_at::text AS last_success_at,
            p.last_error, p.last_counts
       FROM names n LEFT JOIN sluice.mail_polls p ON p.account = n.account
      ORDER BY n.account`,
  );
  return rows.map((r) => ({
    account: r.account,
    saved: r.saved,
    activeRules: r.active_rules,
    messagesHandled: r.messages_handled,
    lastAttemptAt: r.last_attempt_at,
    lastSuccessAt: r.last_success_at,
    lastError: r.last_error,
    lastCounts: r.last_counts ?? {},
  }));
}
