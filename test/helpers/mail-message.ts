import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface MailAttachment {
  filename: string;
  content: string | Buffer;
}

/** A raw RFC 5322 message (nodemailer's composer), to deliver to the test IMAP server. */
export function composeMail(o: {
  subject: string;
  from?: string;
  date?: Date;
  messageId?: string;
  attachments?: MailAttachment[];
}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    new MailComposer({
      from: o.from ?? 'Reports <reports@example.com>',
      to: 'etl@example.com',
      subject: o.subject,
      date: o.date ?? new Date('2026-11-03T10:00:00Z'),
      ...(o.messageId ? { messageId: o.messageId } : {}),
      text: 'see attached',
      attachments: o.attachments ?? [],
    })
      .compile()
      .build((error, message) => (error ? reject(error) : resolve(message)));
  });
}
