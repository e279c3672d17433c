import { randomBytes } from 'node:crypto';
import { access, link, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { SluiceError, errorMessage } from '../../../core/errors.js';
import type { InboxRule, MailStore, PollCounts } from '../../../core/mail-store.js';
import type { Logger } from '../../../core/plugin.js';
import type { FetchMessageObject } from 'imapflow';
import { uniqueFileName } from '../safe-file-name.js';
import type { Mailbox } from './connection.js';
import {
  attachmentsOf,
  datePrefix,
  datedName,
  decodedSizeRange,
  emlName,
  matchRule,
  messageKey,
  senderOf,
  sentDate,
  type Attachment,
  type CompiledRule,
} from './rules.js';

/** A matching attachment and the dated, safe name it gets. */
export interface PlannedFile {
  attachment: Attachment;
  name: string;
}

/** A message a rule took, with what it becomes. */
export interface PlannedMessage {
  uid: number;
  /** The Message-ID (the ledger key). */
  key: string;
  subject: string;
  sender: string;
  sentAt: Date | undefined;
  /** RFC822.SIZE: the exact size of the raw message. */
  size: number | undefined;
  rule: InboxRule;
  files: PlannedFile[];
  emlName: string;
  /** Other copies of the message in this listing (same Message-ID): moved with it, never read. */
  copies: number[];
}

export interface ScanOptions {
  /** The ledger account; the ledger is not consulted without a store. */
  account: string;
  store?: MailStore;
  processedMailbox: string;
  errorMailbox: string;
  logger: Logger;
  /**
   * File names unique across the whole listing (a pipeline: names key its ledger), or only within each
   * message (a feeder: a clash with a file already in the folder is settled when it is written).
   */
  uniqueAcross: 'listing' | 'message';
  /** A dry run: say which messages would move, and move none. */
  dryRun?: boolean;
}

export interface Scan {
  matched: PlannedMessage[];
  /** Moved to the error mailbox: no rule matched. */
  unmatched: number;
  /** Moved to the processed mailbox: the ledger has their Message-ID. */
  alreadyHandled: number;
  /** Copies of a message listed earlier in the same listing (same Message-ID): each follows its first copy. */
  copies: number;
}

/**
 * Lists the mailbox and sorts its messages: those whose Message-ID the ledger has are moved to the
 * processed mailbox untouched (handled before; moved back, or a crash came before their move); those no
 * rule matches go to the error mailbox; the rest are returned with their files named. Copies of one
 * message (the same Message-ID twice in the listing) are one message: the first copy, by UID, is matched
 * and read, and the others go wherever it goes (a matched message's copies move with it once it is done).
 */
export async function scanMailbox(
  mailbox: Mailbox,
  rules: readonly CompiledRule[],
  o: ScanOptions,
): Promise<Scan> {
  const groups = new Map<string, { first: FetchMessageObject; copies: number[] }>();
  for (const message of await mailbox.messages()) {
    const key = messageKey(message);
    const group = groups.get(key);
    if (group) group.copies.push(message.uid);
    else groups.set(key, { first: message, copies: [] });
  }
  const handled = o.store ? await o.store.handled(o.account, [...groups.keys()]) : new Set<string>();
  const unmatched: number[] = [];
  const again: number[] = [];
  const matched: PlannedMessage[] = [];
  const listingNames = new Set<string>();
  let copies = 0;
  for (const [key, { first: message, copies: others }] of groups) {
    copies += others.length;
    if (others.length)
      o.logger.info(
        `message ${message.uid} (${key}) is in the mailbox ${others.length + 1} times: handled once`,
        { copies: others },
      );
    if (handled.has(key)) {
      again.push(message.uid, ...others);
      continue;
    }
    const match = matchRule(rules, message, attachmentsOf(message.bodyStructure));
    if (!match) {
      unmatched.push(message.uid, ...others);
      continue;
    }
    o.logger.debug(`message ${message.uid} matches rule ${match.rule.name}`, { files: match.files.length });
    const taken = o.uniqueAcross === 'listing' ? listingNames : new Set<string>();
    const prefix = datePrefix(message);
    matched.push({
      uid: message.uid,
      key,
      subject: message.envelope?.subject ?? '',
      sender: senderOf(message),
      sentAt: sentDate(message),
      size: message.size,
      rule: match.rule,
      files: match.files.map((attachment) => ({
        attachment,
        name: uniqueFileName(datedName(prefix, attachment.filename), taken),
      })),
      emlName: emlName(message),
      copies: others,
    });
  }
  const moved = o.dryRun ? 'would move (dry run)' : 'moved';
  if (again.length) {
    if (!o.dryRun) await mailbox.move(again, o.processedMailbox);
    o.logger.info(
      `${moved} ${again.length} message(s) handled before (by Message-ID) to ${o.processedMailbox} again`,
      { uids: again },
    );
  }
  if (unmatched.length) {
    if (!o.dryRun) await mailbox.move(unmatched, o.errorMailbox);
    o.logger.info(`${moved} ${unmatched.length} message(s) that match no rule to ${o.errorMailbox}`, {
      uids: unmatched,
    });
  }
  return { matched, unmatched: unmatched.length, alreadyHandled: again.length, copies };
}

/**
 * Downloads one attachment to `file` and checks it arrived whole (its decoded size against its size on
 * the wire). Returns its size.
 */
export async function downloadAttachment(
  mailbox: Mailbox,
  uid: number,
  attachment: Attachment,
  file: string,
  name: string,
): Promise<number> {
  const size = await mailbox.download(uid, attachment.part, file);
  const [min, max] = decodedSizeRange(attachment);
  if (size < min || size > max) {
    throw new SluiceError(
      'SOURCE_IO',
      `${name} arrived incomplete: ${size} bytes, expected ${min === max ? min : `${min}-${max}`}`,
      { retryable: true, where: `${mailbox.location} message ${uid}` },
    );
  }
  return size;
}

/** Downloads the raw message to `file`, checking its size against RFC822.SIZE. */
async function downloadRaw(mailbox: Mailbox, message: PlannedMessage, file: string): Promise<void> {
  const size = await mailbox.download(message.uid, undefined, file);
  if (message.size !== undefined && size !== message.size) {
    throw new SluiceError(
      'SOURCE_IO',
      `${message.emlName} arrived incomplete: ${size} bytes, expected ${message.size}`,
      { retryable: true, where: `${mailbox.location} message ${message.uid}` },
    );
  }
}

/**
 * Writes a message's files into its rule's target folder: each under a hidden temporary name first
 * (`.<random>.sluice-part`, which a folder watcher must ignore), flushed to disk, and only when every one arrived
 * whole are they given their names, never replacing a file already there (`_2`, `_3`… instead). Nothing is
 * left under a final name when a download fails. Returns the names written.
 */
export async function writeMessageFiles(
  mailbox: Mailbox,
  message: PlannedMessage,
  o: { attachments: boolean; eml: boolean },
): Promise<string[]> {
  const folder = message.rule.targetFolder;
  if (!folder) throw new Error(`rule ${message.rule.name} has no targetFolder`);
  await mkdir(folder, { recursive: true });
  const temps: { temp: string; name: string }[] = [];
  const tempPath = () => path.join(folder, `.${randomBytes(8).toString('hex')}.sluice-part`);
  try {
    if (o.attachments) {
      for (const f of message.files) {
        const temp = tempPath();
        temps.push({ temp, name: f.name });
        await downloadAttachment(mailbox, message.uid, f.attachment, temp, f.name);
        await flush(temp);
      }
    }
    if (o.eml) {
      const temp = tempPath();
      temps.push({ temp, name: message.emlName });
      await downloadRaw(mailbox, message, temp);
      await flush(temp);
    }
    const written: string[] = [];
    for (const t of temps) written.push(await publish(t.temp, folder, t.name));
    await flushFolder(folder);
    return written;
  } finally {
    await Promise.all(temps.map((t) => rm(t.temp, { force: true })));
  }
}

async function flush(file: string) {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The renames are durable once the folder itself is flushed (not every system allows it). */
async function flushFolder(folder: string) {
  const handle = await open(folder, 'r').catch(() => undefined);
  try {
    await handle?.sync().catch(() => undefined);
  } finally {
    await handle?.close();
  }
}

/** Gives `temp` the name `name` in `folder`, or `name_2`… when taken: never replaces a file. */
async function publish(temp: string, folder: string, name: string): Promise<string> {
  const taken = new Set<string>();
  let candidate = name;
  for (;;) {
    const destination = path.join(folder, candidate);
    try {
      // A hard link fails when the name exists, so no file is ever replaced (rename would replace it).
      await link(temp, destination);
      await unlink(temp);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        taken.add(candidate);
        candidate = uniqueFileName(name, taken);
        continue;
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw error;
      // A file system without hard links: check, then rename (a tiny window for a clash).
      const exists = await access(destination).then(
        () => true,
        () => false,
      );
      if (exists) {
        taken.add(candidate);
        candidate = uniqueFileName(name, taken);
        continue;
      }
      await rename(temp, destination);
      return candidate;
    }
  }
}

/**
 * Ledger entry, then the move (with the message's copies): a crash between the two leaves a message the
 * next scan just moves.
 */
export async function finishMessage(
  mailbox: Mailbox,
  message: PlannedMessage,
  o: { account: string; store?: MailStore; processedMailbox: string; files: string[] },
): Promise<void> {
  await o.store?.recordHandled({
    account: o.account,
    messageId: message.key,
    mailbox: mailbox.target.mailbox,
    subject: message.subject,
    sender: message.sender,
    ...(message.sentAt ? { sentAt: message.sentAt } : {}),
    rule: message.rule.name,
    files: o.files,
  });
  await mailbox.move([message.uid, ...message.copies], o.processedMailbox);
}

export interface FeedResult extends PollCounts {
  /** Copies of a message already in the same poll (same Message-ID): moved with it, not written again. */
  copies: number;
  /** Messages left in the mailbox because handling them failed (they are tried again next poll). */
  failed: { uid: number; subject: string; error: string }[];
  written: { folder: string; name: string }[];
}

/**
 * Feeder mode: scans the mailbox against the rules, writes each matching message's attachments and raw
 * `.eml` into its rule's target folder, records it by Message-ID, then moves it to the processed mailbox.
 * A message whose files cannot be written stays where it is (the next poll tries again) and the others go
 * on; a lost connection ends the poll.
 */
export async function feedInbox(
  mailbox: Mailbox,
  rules: readonly CompiledRule[],
  o: { account: string; store: MailStore; processedMailbox: string; errorMailbox: string; logger: Logger },
): Promise<FeedResult> {
  for (const r of rules) {
    if (!r.rule.targetFolder)
      throw new SluiceError('CONFIG_INVALID', `inbox rule ${r.rule.name} has no targetFolder`, {
        where: `rule ${r.rule.name}`,
        hint: 'A rule used to feed folders says where its files go: give it targetFolder.',
      });
  }
  const scan = await scanMailbox(mailbox, rules, { ...o, uniqueAcross: 'message' });
  const result: FeedResult = {
    handled: 0,
    unmatched: scan.unmatched,
    alreadyHandled: scan.alreadyHandled,
    copies: scan.copies,
    files: 0,
    failed: [],
    written: [],
  };
  for (const message of scan.matched) {
    let files: string[];
    try {
      files = await writeMessageFiles(mailbox, message, { attachments: true, eml: true });
    } catch (error) {
      const e = mailbox.ioError(`saving message ${message.uid}`, error);
      if (e.code === 'SOURCE_UNREACHABLE' || e.code === 'ABORTED') throw e;
      o.logger.error(`message ${message.uid} (${message.subject}) stays in the mailbox: ${errorMessage(e)}`);
      result.failed.push({ uid: message.uid, subject: message.subject, error: errorMessage(e) });
      continue;
    }
    const folder = message.rule.targetFolder!;
    await finishMessage(mailbox, message, { ...o, files });
    result.handled++;
    result.files += files.length;
    result.written.push(...files.map((name) => ({ folder, name })));
    o.logger.info(
      `message ${message.uid} (${message.subject}): rule ${message.rule.name} wrote ${files.join(', ')} into ${folder}`,
    );
  }
  return result;
}
