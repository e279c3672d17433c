-- Mail in (seed 003's inbox configuration): mail accounts, inbox rules, the Message-ID ledger and the time
-- of each account's last successful poll.

-- Connection settings of a mailbox, as written in the inbox file: environment references such as
-- ${IMAP_PASSWORD} are kept, so no secret is stored. Validated by accountSchema
-- (src/plugins/sources/imap/inbox-file.ts) when loaded and again, with the environment, when polled.
CREATE TABLE sluice.mail_accounts (
  name text PRIMARY KEY,
  definition jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which messages to take and where their files go. Rules of an account are tried by priority, lowest
-- first (then by name); the first match wins. Regular expressions match case-insensitively.
CREATE TABLE sluice.inbox_rules (
  name text PRIMARY KEY,
  account text NOT NULL,
  subject text,
  sender text,
  has_attachment boolean,
  attachment text,
  target_folder text,
  priority integer NOT NULL DEFAULT 100,
  active boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_rules_account ON sluice.inbox_rules (account, priority, name) WHERE active;

-- Every message handled, by Message-ID per account: a message found here again (moved back to the
-- inbox, or left there by a crash before its move) is moved on without being handled twice.
CREATE TABLE sluice.mail_messages (
  account text NOT NULL,
  message_id text NOT NULL,
  mailbox text NOT NULL,
  subject text,
  sender text,
  sent_at timestamptz,
  rule text,
  -- The files written (feeder mode) or read (pipeline mode), by name.
  files jsonb NOT NULL DEFAULT '[]'::jsonb,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account, message_id)
);

-- One row per account: when it was last polled, and when a poll last succeeded.
CREATE TABLE sluice.mail_polls (
  account text PRIMARY KEY,
  last_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_success_at timestamptz,
  last_error text,
  -- What the last successful poll did: messages handled, moved to Error, already in the ledger.
  last_counts jsonb NOT NULL DEFAULT '{}'::jsonb
);
