import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(SecretBox.generateKey());

  it('round-trips a value bound to its owner', () => {
    const sealed = box.seal({ webhookUrl: 'https://x.example/rest/1/secret/' }, 'instance-1');
    expect(sealed).not.toContain('secret');
    expect(box.open(sealed, 'instance-1')).toEqual({ webhookUrl: 'https://x.example/rest/1/secret/' });
  });

  it('refuses another owner, another key and tampering', () => {
    const sealed = box.seal({ token: 't' }, 'instance-1');
    expect(() => box.open(sealed, 'instance-2')).toThrow(SecretBoxError);
    expect(() => new SecretBox(SecretBox.generateKey()).open(sealed, 'instance-1')).toThrow(SecretBoxError);
    const parts = sealed.split(':');
    parts[3] = Buffer.from('forged').toString('base64');
    expect(() => box.open(parts.join(':'), 'instance-1')).toThrow(SecretBoxError);
  });

  it('refuses a key of the wrong size', () => {
    expect(() => new SecretBox(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
