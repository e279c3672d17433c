import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/errors.js';
import {
  fromSharedError,
  readMessages,
  send,
  shareSocketPath,
  toSharedError,
} from '../../../src/store/share-protocol.js';

describe('the socket of a shared embedded database', () => {
  it('lies in the home folder, or in the temporary folder when that path is too long for a socket', () => {
    expect(shareSocketPath('/srv/etl/.sluice')).toBe('/srv/etl/.sluice/sluice.sock');
    const deep = `/srv/${'x'.repeat(120)}/.sluice`;
    const other = shareSocketPath(deep);
    expect(path.dirname(other)).toBe(os.tmpdir());
    expect(other).toMatch(/sluice-[0-9a-f]{16}\.sock$/);
    expect(shareSocketPath(deep)).toBe(other); // every process finds the same one
    expect(shareSocketPath(`${deep}2`)).not.toBe(other);
  });
});

describe('messages on the wire', () => {
  it('carry bytes, non-finite numbers, big integers and line breaks one message a line', async () => {
    const [left, right] = await socketPair();
    const got: unknown[] = [];
    readMessages(right, (m) => got.push(m));
    await send(left, {
      id: 1,
      result: { b: Buffer.from([0, 1, 255]), u: new Uint8Array([7]), n: [NaN, -Infinity] },
    });
    await send(left, { id: 2, result: { big: 12345678901234567890n, text: 'a\nb\r\u2028c' } } as never);
    await until(() => got.length === 2);
    expect(got).toEqual([
      { id: 1, result: { b: new Uint8Array([0, 1, 255]), u: new Uint8Array([7]), n: [NaN, -Infinity] } },
      { id: 2, result: { big: '12345678901234567890', text: 'a\nb\r\u2028c' } },
    ]);
    left.destroy();
    right.destroy();
  });

  it('end the connection on a line that is not JSON', async () => {
    const [left, right] = await socketPair();
    readMessages(right, () => undefined);
    const closed = once(right, 'close');
    left.write('not json\n');
    await closed;
    left.destroy();
  });
});

describe('errors on the wire', () => {
  it('keep code, hint, where and what callers read of the database error', () => {
    const cause = Object.assign(new Error('duplicate key'), {
      code: '23505',
      where: 'COPY t, line 3',
      other: 1,
    });
    const error = new SluiceError('DATABASE_ERROR', 'the database refused a statement', {
      retryable: true,
      hint: 'look',
      where: 'a.csv:3',
      cause,
    });
    const back = fromSharedError(JSON.parse(JSON.stringify(toSharedError(error))) as never);
    expect(back).toBeInstanceOf(SluiceError);
    expect(back).toMatchObject({
      code: 'DATABASE_ERROR',
      message: 'the database refused a statement',
      retryable: true,
      hint: 'look',
      where: 'a.csv:3',
    });
    expect(back.cause).toMatchObject({ code: '23505', where: 'COPY t, line 3', message: 'duplicate key' });
    expect((back.cause as Record<string, unknown>).other).toBeUndefined();
  });

  it('turn anything else into an unexpected error with its message', () => {
    expect(toSharedError(new TypeError('boom'))).toEqual({
      code: 'INTERNAL',
      message: 'boom',
      retryable: false,
    });
  });
});

async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection');
  const left = net.createConnection(port, '127.0.0.1');
  const [right] = (await accepted) as [net.Socket];
  server.close();
  return [left, right];
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}
