import type { FetchMessageObject } from 'imapflow';
import { describe, expect, it } from 'vitest';
import {
  compileRules,
  matchRule,
  messageKey,
  senderOf,
} from '../../../../../src/plugins/sources/imap/rules.js';

/** A listed message with only what the rules read: its envelope. */
function message(from: { name?: string; address?: string }[], extra: Partial<FetchMessageObject> = {}) {
  return {
    seq: 1,
    uid: 1,
    envelope: { subject: 'Daily report', date: new Date('2026-11-03T10:00:00Z'), from },
    ...extra,
  } as FetchMessageObject;
}

describe('senderOf: the one form sender patterns see', () => {
  it('is `Name <address>`, or `<address>` without a display name, each address of From joined by `, `', () => {
    expect(senderOf(message([{ name: '', address: 'reports@acme.example' }]))).toBe('<reports@acme.example>');
    expect(senderOf(message([{ address: 'reports@acme.example' }]))).toBe('<reports@acme.example>');
    expect(senderOf(message([{ name: 'Acme Reports', address: 'reports@acme.example' }]))).toBe(
      'Acme Reports <reports@acme.example>',
    );
    expect(
      senderOf(
        message([
          { name: '', address: 'a@x.example' },
          { name: 'B', address: 'b@y.example' },
        ]),
      ),
    ).toBe('<a@x.example>, B <b@y.example>');
    // A group name without addresses (`Undisclosed:;`) is no sender.
    expect(senderOf(message([{ name: 'Undisclosed', address: '' }]))).toBe('');
    expect(senderOf(message([]))).toBe('');
  });

  it('lets one pattern anchored on `>` match a domain with or without a display name', () => {
    const rules = compileRules([{ name: 'acme', sender: '@acme\\.example>$', priority: 1 }]);
    const matches = (from: { name?: string; address?: string }[]) =>
      matchRule(rules, message(from), [])?.rule.name ?? null;
    expect(matches([{ name: '', address: 'reports@acme.example' }])).toBe('acme');
    expect(matches([{ name: 'Acme', address: 'REPORTS@ACME.EXAMPLE' }])).toBe('acme');
    expect(matches([{ name: '', address: 'reports@acme.example.evil.test' }])).toBeNull();
    expect(matches([{ name: 'x@acme.example>', address: 'mallory@evil.test' }])).toBeNull();
  });
});

describe('messageKey', () => {
  it('is the Message-ID when there is one', () => {
    expect(messageKey(message([], { envelope: { messageId: ' <id-1@x> ' } }))).toBe('<id-1@x>');
  });

  it('hashes the date, sender, subject and size without one, as before senders had one form', () => {
    // The key earlier versions gave this message (sha256 of date, bare address, subject, size): the ledger
    // may hold it, so it must not change, or the message would be handled again.
    const key = messageKey(message([{ name: '', address: 'reports@acme.example' }], { size: 1234 }));
    expect(key).toBe('<no-message-id:d5e89435682774c1c116156a78f8b776>');
  });
});
