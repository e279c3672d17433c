import { mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage, SluiceError } from '../../core/errors.js';
import type { InboxRule } from '../../core/mail-store.js';
import { withRenamedKeys } from '../../core/renamed-keys.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import {
  checkConnection,
  connectionShape,
  openMailbox,
  resolveTarget,
  type Mailbox,
} from './imap/connection.js';
import {
  downloadAttachment,
  finishMessage,
  scanMailbox,
  writeMessageFiles,
  type PlannedMessage,
} from './imap/poller.js';
import { compileRules, inlineRuleSchema } from './imap/rules.js';

const options = withRenamedKeys(
  'imap',
  z
    .strictObject({
      ...connectionShape,
      account: z
        .string()
        .min(1)
        .optional()
        .describe(
          'The account name: keys the Message-ID ledger and the last poll, and names the rules of ' +
            'sluice.inbox_rules to use (`sluice inbox load`). user@host by default.',
        ),
      rules: z
        .union([z.array(inlineRuleSchema).min(1), z.literal('table')])
        .optional()
        .describe(
          'Which messages to take and which attachments become files: a list, or `table` for the active ' +
            "rules of the account in sluice.inbox_rules (the default when account is given and rules isn't).",
        ),
    })
    .superRefine(checkConnection)
    .superRefine((o, ctx) => {
      if (o.rules === undefined && o.account === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['rules'],
          message: 'give rules (a list), or account to use the rules saved with `sluice inbox load`',
        });
      if (o.rules === 'table' && o.account === undefined)
        ctx.addIssue({ code: 'custom', path: ['account'], message: 'rules: table needs the account name' });
    }),
);

/** Attachments of messages in an IMAP mailbox, chosen by rules; settled messages move to a folder. */
export const imapSource = defineSource({
  name: 'imap',
  summary: 'Attachments of mail in an IMAP mailbox chosen by rules; handled mail moves to Processed.',
  schemes: ['imap', 'imaps'],
  options,
  async open(opts, context) {
    const target = resolveTarget(opts);
    const account = opts.account ?? `${target.username}@${target.host}`;
    const store = context.mail;
    const dryRun = context.dryRun ?? false;
    /** Every poll is recorded, failed ones too: the last successful one is the liveness of mail in. */
    const recordFailure = (error: unknown) =>
      store?.recordPoll(account, { ok: false, error: errorMessage(error) }).catch(() => undefined);
    let mailbox: Mailbox;
    try {
      mailbox = await openMailbox(opts, context);
    } catch (error) {
      await recordFailure(error);
      throw error;
    }
    const { location } = mailbox;

    async function rules(): Promise<InboxRule[]> {
      if (Array.isArray(opts.rules)) return opts.rules;
      if (!store)
        throw new SluiceError('CONFIG_INVALID', `the rules of account ${account} are kept in the database`, {
          where: 'source.rules',
          hint: 'Table rules are read in a pipeline run; give the rules inline here.',
        });
      const saved = await store.rules(account);
      if (saved.length === 0)
        throw new SluiceError('CONFIG_INVALID', `account ${account} has no active inbox rules`, {
          where: 'source.account',
          hint: 'Load them with `sluice inbox load FILE.yaml`; `sluice inbox list` shows them.',
        });
      return saved;
    }

    interface Listed {
      message: PlannedMessage;
      file: PlannedMessage['files'][number];
    }
    /** The files of the latest listing, by id; and per message UID the ids not settled yet. */
    const listed = new Map<string, Listed>();
    const pending = new Map<number, Set<string>>();

    async function finish(message: PlannedMessage) {
      // The raw message is kept beside the other mail of its rule when the rule names a folder.
      const files = message.rule.targetFolder
        ? await writeMessageFiles(mailbox, message, { attachments: false, eml: true })
        : [];
      await finishMessage(mailbox, message, {
        account,
        ...(store ? { store } : {}),
        processedMailbox: opts.processedMailbox,
        files: [...message.files.map((f) => f.name), ...files],
      });
      context.logger.debug(`moved message ${message.uid} to ${opts.processedMailbox}`);
    }

    return {
      location,
      async *list() {
        listed.clear();
        pending.clear();
        const files: SourceFile[] = [];
        let scan;
        try {
          scan = await scanMailbox(mailbox, compileRules(await rules()), {
            account,
            ...(store ? { store } : {}),
            processedMailbox: opts.processedMailbox,
            errorMailbox: opts.errorMailbox,
            logger: context.logger,
            uniqueAcross: 'listing',
            dryRun,
          });
          const nothingToLoad: PlannedMessage[] = [];
          for (const message of scan.matched) {
            if (message.files.length === 0) {
              // A rule took it (hasAttachment: false), but it carries no file to wait for.
              nothingToLoad.push(message);
              continue;
            }
            const ids = new Set<string>();
            for (const file of message.files) {
              const id = `${message.uid}/${file.attachment.part}`;
              listed.set(id, { message, file });
              ids.add(id);
              files.push({ id, name: file.name, size: file.attachment.encodedSize });
            }
            pending.set(message.uid, ids);
          }
          if (!dryRun) for (const message of nothingToLoad) await finish(message);
          if (nothingToLoad.length)
            context.logger.info(
              `${dryRun ? 'would move (dry run)' : 'moved'} ${nothingToLoad.length} matching message(s) without files to ${opts.processedMailbox}`,
            );
        } catch (error) {
          const e = mailbox.ioError('listing', error);
          await recordFailure(e);
          throw e;
        }
        await store?.recordPoll(account, {
          ok: true,
          counts: {
            handled: scan.matched.length,
            unmatched: scan.unmatched,
            alreadyHandled: scan.alreadyHandled,
            files: files.length,
          },
        });
        yield* files;
      },
      async fetch(file) {
        const entry = listed.get(file.id);
        if (!entry) {
          throw new SluiceError('SOURCE_IO', `${file.id} was not listed in this session`, {
            where: location,
          });
        }
        const folder = await mkdtemp(path.join(context.workDir, 'imap-'));
        const local = path.join(folder, path.basename(file.name));
        const part = `${local}.part`;
        try {
          const size = await downloadAttachment(
            mailbox,
            entry.message.uid,
            entry.file.attachment,
            part,
            file.name,
          );
          await rename(part, local);
          return { path: local, size, temporary: true };
        } catch (error) {
          await rm(folder, { recursive: true, force: true });
          throw mailbox.ioError(`downloading ${file.id}`, error);
        }
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        if (dryRun) return; // a dry run moves nothing at the source
        const entry = listed.get(file.id);
        const waiting = entry && pending.get(entry.message.uid);
        if (!entry || !waiting) return;
        waiting.delete(file.id);
        context.logger.debug(`${file.name} is settled (${outcome})`, { waiting: waiting.size });
        if (waiting.size > 0) return;
        await finish(entry.message);
        pending.delete(entry.message.uid);
      },
      close: () => mailbox.close(),
    };
  },
});
