import { describe, expect, it } from 'vitest';
import { parseServerUrl } from '../../../src/core/server-url.js';

const sftp = {
  field: 'source.url',
  protocols: ['sftp'],
  example: 'sftp://user@host:port/path',
  passwordField: 'source.password',
};

describe('parseServerUrl', () => {
  it('gives host, port, user and the decoded path', () => {
    expect(parseServerUrl('sftp://etl%40corp@[::1]:2222/in%20box', sftp)).toEqual({
      protocol: 'sftp',
      host: '::1',
      port: 2222,
      username: 'etl@corp',
      path: '/in box',
    });
    expect(parseServerUrl('imaps://mail.example.com', { ...sftp, protocols: ['imap', 'imaps'] })).toEqual({
      protocol: 'imaps',
      host: 'mail.example.com',
      path: '',
    });
  });

  it('names the option and what was expected', () => {
    expect(() => parseServerUrl('not a url', sftp)).toThrow(
      'source.url is not a valid URL; expected sftp://user@host:port/path',
    );
    expect(() => parseServerUrl('ftp://h/x', sftp)).toThrow(
      'source.url must start with sftp:// (not ftp://)',
    );
    expect(() => parseServerUrl('sftp://u:secret@h/x', sftp)).toThrow(
      'do not put the password in source.url: give it as source.password',
    );
    expect(() => parseServerUrl('sftp://h/x?y=1', sftp)).toThrow('must not have a query');
  });
});
