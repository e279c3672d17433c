import { createHash } from 'node:crypto';
import type { FetchMessageObject, MessageStructureObject } from 'imapflow';
import { z } from 'zod';
import type { InboxRule } from '../../../core/mail-store.js';
import { pathOption } from '../../../core/path-option.js';
import { regexOption } from '../../../core/regex.js';
import { MAX_FILE_NAME_BYTES, safeFileName } from '../safe-file-name.js';

/** A regular expression given as text; checked when the config is read, so a bad one fails early. */
export const regexText = (what: string) =>
  regexOption('a regular expression', 'iu').describe(
    `${what}, as a regular expression matched case-insensitively (anywhere unless anchored).`,
  );

/** The fields every inbox rule has, inline in a pipeline or in `sluice.inbox_rules`. */
export const ruleShape = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a rule name is letters, digits, _, . and -')
    .describe('The rule name, for logs and `sluice inbox disable NAME`.'),
  subject: regexText('What the subject must match').optional(),
  sender: regexText(
    'What the sender must match: From as `Name <address>`, or `<address>` when it has no name',
  ).optional(),
  hasAttachment: z
    .boolean()
    .optional()
    .describe('true: the message must have an attachment; false: it must have none.'),
  attachment: regexText(
    'What an attachment name must match; only matching attachments become files, and a message ' +
      'with none does not match the rule',
  ).optional(),
  targetFolder: pathOption()
    .optional()
    .describe(
      'The folder the matching attachments and the raw .eml are written to (as a pipeline source, only ' +
        'the .eml: the attachments go to the parser).',
    ),
  priority: z
    .number()
    .int()
    .default(100)
    .describe('Rules are tried by priority, lowest first (ties in the order written); the first match wins.'),
};

/** A rule written inline in a pipeline's imap source. */
export const inlineRuleSchema = z.strictObject(ruleShape);

/** An attachment of a message, as the body structure describes it. */
export interface Attachment {
  part: string;
  filename: string;
  type: string;
  /** Transfer encoding (`base64`, `quoted-printable`, `7bit`...). */
  encoding: string;
  /** Size on the wire, before the transfer encoding is undone. */
  encodedSize: number;
}

/** Leaf parts with a file name or an `attachment` disposition; an attached message counts as one file. */
export function attachmentsOf(
  node: MessageStructureObject | undefined,
  out: Attachment[] = [],
): Attachment[] {
  if (!node) return out;
  const type = node.type.toLowerCase();
  const filename = node.dispositionParameters?.filename ?? node.parameters?.name;
  const isMessage = type === 'message/rfc822';
  if (node.childNodes?.length && !isMessage) {
    for (const child of node.childNodes) attachmentsOf(child, out);
    return out;
  }
  if (node.part && (node.disposition?.toLowerCase() === 'attachment' || filename !== undefined)) {
    out.push({
      part: node.part,
      filename: filename ?? '',
      type,
      encoding: (node.encoding ?? '7bit').toLowerCase(),
      encodedSize: node.size ?? 0,
    });
  }
  return out;
}

/**
 * The sender as rules see it: each address of From in one canonical form, `Name <address>`, or
 * `<address>` when it has no display name (display names decoded, comments taken as names), joined by
 * `, `. So `@acme\.example>$` matches every sender of that domain, with or without a name.
 */
export function senderOf(message: FetchMessageObject): string {
  return (message.envelope?.from ?? [])
    .filter((a) => a.address)
    .map((a) => (a.name ? `${a.name} <${a.address}>` : `<${a.address}>`))
    .join(', ');
}

export interface CompiledRule {
  rule: InboxRule;
  subject?: RegExp;
  sender?: RegExp;
  attachment?: RegExp;
}

/** Rules sorted by priority (stable: ties keep their order) with their expressions compiled. */
export function compileRules(rules: readonly InboxRule[]): CompiledRule[] {
  return rules
    .map((r, index) => ({ r, index }))
    .sort((a, b) => a.r.priority - b.r.priority || a.index - b.index)
    .map(({ r }) => ({
      rule: r,
      ...(r.subject !== undefined ? { subject: new RegExp(r.subject, 'iu') } : {}),
      ...(r.sender !== undefined ? { sender: new RegExp(r.sender, 'iu') } : {}),
      ...(r.attachment !== undefined ? { attachment: new RegExp(r.attachment, 'iu') } : {}),
    }));
}

/** The first rule (by priority) the message matches, and the attachments it takes. */
export function matchRule(
  rules: readonly CompiledRule[],
  message: FetchMessageObject,
  attachments: readonly Attachment[],
): { rule: InboxRule; files: Attachment[] } | undefined {
  const subject = message.envelope?.subject ?? '';
  const sender = senderOf(message);
  for (const r of rules) {
    if (r.subject && !r.subject.test(subject)) continue;
    if (r.sender && !r.sender.test(sender)) continue;
    if (r.rule.hasAttachment !== undefined && r.rule.hasAttachment !== attachments.length > 0) continue;
    const files = r.attachment ? attachments.filter((a) => r.attachment?.test(a.filename)) : [...attachments];
    if (r.attachment && files.length === 0) continue;
    return { rule: r.rule, files };
  }
  return undefined;
}

/** The date the message was sent, or its arrival when it has no valid Date header. */
export function sentDate(message: FetchMessageObject): Date | undefined {
  for (const raw of [message.envelope?.date, message.internalDate]) {
    if (raw === undefined) continue;
    const date = new Date(raw);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return undefined;
}

/** `yyyyMMdd` of the date the message was sent (UTC), or of its arrival when it has no Date header. */
export function datePrefix(message: FetchMessageObject): string {
  return (sentDate(message) ?? new Date(0)).toISOString().slice(0, 10).replace(/-/g, '');
}

/** A file name prefixed with the message's date, made safe, the whole within the length bound. */
export function datedName(prefix: string, name: string, maxBytes = MAX_FILE_NAME_BYTES): string {
  return `${prefix}_${safeFileName(name, maxBytes - prefix.length - 1)}`;
}

/** The `.eml` name of a message: its date and subject, made safe. */
export function emlName(message: FetchMessageObject): string {
  const prefix = datePrefix(message);
  const stem = safeFileName(message.envelope?.subject || 'message', MAX_FILE_NAME_BYTES - prefix.length - 5);
  return `${prefix}_${stem}.eml`;
}

/**
 * The key of a message in the ledger: its Message-ID, which stays the same when the message is moved or
 * copied (its UID does not). A message without one is keyed by a hash of its date, sender, subject and size.
 */
export function messageKey(message: FetchMessageObject): string {
  const id = message.envelope?.messageId?.trim();
  if (id) return id;
  // The sender as it was written before senders had one canonical form (a bare address without <>):
  // changing it would give messages already in the ledger new keys, and they would be handled again.
  const sender = (message.envelope?.from ?? [])
    .map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? '')))
    .join(', ');
  const basis = [
    message.envelope?.date ? new Date(message.envelope.date).toISOString() : '',
    sender,
    message.envelope?.subject ?? '',
    String(message.size ?? ''),
  ].join('\n');
  return `<no-message-id:${createHash('sha256').update(basis).digest('hex').slice(0, 32)}>`;
}

/** The decoded size an attachment can have, from its size on the wire: a check that it arrived whole. */
export function decodedSizeRange(a: Attachment): [number, number] {
  switch (a.encoding) {
    case 'base64': {
      // Every 4 characters give 3 bytes; line breaks (CRLF every 76 characters or more) carry none.
      const max = Math.floor((a.encodedSize * 3) / 4);
      const min = Math.floor(((a.encodedSize * 76) / 78) * 0.75) - 3;
      return [Math.max(0, min), max];
    }
    case 'quoted-printable':
      return [Math.floor(a.encodedSize / 3), a.encodedSize];
    default:
      return [a.encodedSize, a.encodedSize];
  }
}
