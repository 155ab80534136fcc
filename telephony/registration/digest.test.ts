import { describe, expect, it } from 'vitest';
import { DigestAuthenticator, digestResponse, parseDigestAuthorization } from './digest.js';

describe('digest authentication', () => {
  it('computes the RFC 2617 example response (qop=auth)', () => {
    const response = digestResponse(
      { username: 'Mufasa', realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', uri: '/dir/index.html', algorithm: undefined, qop: 'auth', nc: '00000001', cnonce: '0a4f113b' },
      'GET',
      'Circle Of Life',
    );
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('parses quoted and bare fields, and refuses headers that lack one', () => {
    const parsed = parseDigestAuthorization('Digest username="ann", realm="hub", nonce="a.b", uri="sip:hub", response="ABC", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"');
    expect(parsed).toMatchObject({ username: 'ann', realm: 'hub', nonce: 'a.b', uri: 'sip:hub', response: 'abc', algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: 'x' });
    expect(parseDigestAuthorization('Digest username="ann", realm="hub", uri="sip:hub", response="abc"')).toBeUndefined();
    expect(parseDigestAuthorization('Basic YW5uOnNlY3JldA==')).toBeUndefined();
    expect(parseDigestAuthorization(undefined)).toBeUndefined();
  });

  function answer(authenticator: DigestAuthenticator, password: string, qop: boolean) {
    const nonce = /nonce="([^"]+)"/.exec(authenticator.challenge())![1]!;
    const fields = { username: 'ann', realm: authenticator.realm, nonce, uri: 'sip:127.0.0.1', algorithm: 'MD5', qop: qop ? 'auth' : undefined, nc: qop ? '00000001' : undefined, cnonce: qop ? 'c0ffee' : undefined };
    return { ...fields, response: digestResponse(fields, 'REGISTER', password), opaque: undefined };
  }

  it('accepts the right password with and without qop, refuses a wrong one, a forged nonce and another realm', () => {
    const authenticator = new DigestAuthenticator('hub.test');
    expect(authenticator.check(answer(authenticator, 'secret', true), 'REGISTER', 'secret')).toBe('valid');
    expect(authenticator.check(answer(authenticator, 'secret', false), 'REGISTER', 'secret')).toBe('valid');
    expect(authenticator.check(answer(authenticator, 'guess', true), 'REGISTER', 'secret')).toBe('wrong');
    const forged = answer(authenticator, 'secret', true);
    const withForgedNonce = { ...forged, nonce: `${forged.nonce.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA` };
    expect(authenticator.check({ ...withForgedNonce, response: digestResponse(withForgedNonce, 'REGISTER', 'secret') }, 'REGISTER', 'secret')).toBe('wrong');
    // A nonce from another hub process (another key) is not ours either.
    const other = new DigestAuthenticator('hub.test');
    expect(authenticator.check(answer(other, 'secret', true), 'REGISTER', 'secret')).toBe('wrong');
    const elsewhere = new DigestAuthenticator('elsewhere');
    expect(authenticator.check(answer(elsewhere, 'secret', true), 'REGISTER', 'secret')).toBe('wrong');
  });

  it('calls an old nonce with the right password stale, so the phone retries without asking its user', () => {
    let now = 1_000_000;
    const authenticator = new DigestAuthenticator('hub.test', 60_000, () => now);
    const credentials = answer(authenticator, 'secret', true);
    now += 59_000;
    expect(authenticator.check(credentials, 'REGISTER', 'secret')).toBe('valid');
    now += 2_000;
    expect(authenticator.check(credentials, 'REGISTER', 'secret')).toBe('stale');
    expect(authenticator.check(answer(authenticator, 'wrong', true), 'REGISTER', 'secret')).toBe('wrong');
    expect(authenticator.challenge(true)).toMatch(/stale=true/);
  });
});
