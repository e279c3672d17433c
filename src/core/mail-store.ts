/** One inbox rule (seed 003's inbox configuration), as kept in `sluice.inbox_rules` or written inline. */
export interface InboxRule {
  name: string;
  /** The account whose mail the rule applies to (table rules; inline rules take the source's). */
  account?: string;
  /** Regular expressions, matched case-insensitively anywhere unless anchored. */
  subject?: string;
  sender?: string;
  /** true: the message must have an attachment; false: it must have none. */
  hasAttachment?: boolean;
  /** Only attachments whose name matches become files; a message with none does not match. */
  attachment?: string;
  /** Where the attachments and the raw `.eml` are written (feeder mode; the `.eml` only as a pipeline). */
  targetFolder?: string;
  /** Lowest first; ties by the order given (table rules: by name). */
  priority: number;
  active?: boolean;
}

/** A message handled, as the Message-ID ledger keeps it. */
export interface HandledMessage {
  account: string;
  messageId: string;
  mailbox: string;
  subject?: string;
  sender?: string;
  sentAt?: Date;
  rule?: string;
  files: string[];
}

/** What a poll did, kept with the account's last successful poll. */
export interface PollCounts {
  handled: number;
  unmatched: number;
  alreadyHandled: number;
  files: number;
}

/**
 * The control-plane tables of mail in, as a mail source sees them: the active rules of an account, the
 * Message-ID ledger and the record of polls. Implemented over the store (`src/store/mail-store.ts`).
 */
export interface MailStore {
  /** The active rules of `account`, by priority then name. */
  rules(account: string): Promise<InboxRule[]>;
  /** The Message-IDs among `messageIds` already handled for `account`. */
  handled(account: string, messageIds: readonly string[]): Promise<Set<string>>;
  /** Records a handled message; recording it again keeps the first record. */
  recordHandled(message: HandledMessage): Promise<void>;
  /** Records a poll: its time, and on success its counts; on failure the error. */
  recordPoll(
    account: string,
    outcome: { ok: true; counts: PollCounts } | { ok: false; error: string },
  ): Promise<void>;
}
