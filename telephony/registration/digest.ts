/**
 * Server side of SIP digest authentication (RFC 3261 22, RFC 2617 with MD5, qop "auth" or none),
 * for phones registering to the hub.
 *
 * Nonces are stateless: the issue time and an HMAC of it under a per-process key, so a flood of
 * REGISTERs costs no memory and a nonce cannot be forged; an old nonce gets a fresh challenge with
 * `stale=true` (the phone retries without asking the user). Passwords are compared through the
 * digest only, in constant time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: string | undefined;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export type DigestCheck = 'valid' | 'stale' | 'wrong';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** Parses `Digest a="b", c=d`; undefined when it is not a digest header or a field is missing. */
export function parseDigestAuthorization(header: string | undefined): DigestCredentials | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const fields = new Map<string, string>();
  for (const part of match[1]!.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    fields.set(part[1]!.toLowerCase(), part[2] !== undefined ? part[2].replace(/\\(.)/g, '$1') : part[3]!);
  }
  const required = ['username', 'realm', 'nonce', 'uri', 'response'] as const;
  if (required.some((name) => !fields.get(name))) return undefined;
  return {
    username: fields.get('username')!,
    realm: fields.get('realm')!,
    nonce: fields.get('nonce')!,
    uri: fields.get('uri')!,
    response: fields.get('response')!.toLowerCase(),
    algorithm: fields.get('algorithm'),
    qop: fields.get('qop'),
    nc: fields.get('nc'),
    cnonce: fields.get('cnonce'),
    opaque: fields.get('opaque'),
  };
}

/** The response a client with `password` computes (RFC 2617 3.2.2.1). */
export function digestResponse(credentials: Omit<DigestCredentials, 'response' | 'opaque'>, method: string, password: string): string {
  const ha1 = md5(`${credentials.username}:${credentials.realm}:${password}`);
  const ha2 = md5(`${method}:${credentials.uri}`);
  if (credentials.qop === 'auth') return md5(`${ha1}:${credentials.nonce}:${credentials.nc ?? ''}:${credentials.cnonce ?? ''}:auth:${ha2}`);
  return md5(`${ha1}:${credentials.nonce}:${ha2}`);
}

export class DigestAuthenticator {
  private readonly key: Buffer;

  constructor(
    readonly realm: string,
    /** How long a nonce is good for; older ones are answered with a stale challenge. */
    private readonly nonceTtlMs = 300_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = randomBytes(32);
  }

  /** A WWW-Authenticate value with a fresh nonce. */
  challenge(stale = false): string {
    return `Digest realm="${this.realm}", nonce="${this.newNonce()}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  /** Checks credentials that already name this realm and a known user's password. */
  check(credentials: DigestCredentials, method: string, password: string): DigestCheck {
    if (credentials.realm !== this.realm) return 'wrong';
    if (credentials.algorithm !== undefined && credentials.algorithm.toUpperCase() !== 'MD5') return 'wrong';
    if (credentials.qop !== undefined && credentials.qop !== 'auth') return 'wrong';
    const nonce = this.nonceAge(credentials.nonce);
    if (nonce === 'forged') return 'wrong';
    const expected = Buffer.from(digestResponse(credentials, method, password), 'utf8');
    const given = Buffer.from(credentials.response, 'utf8');
    const matches = expected.length === given.length && timingSafeEqual(expected, given);
    if (!matches) return 'wrong';
    // Right password on an old nonce: ask again with stale=true, the phone answers by itself.
    return nonce > this.nonceTtlMs ? 'stale' : 'valid';
  }

  private newNonce(): string {
    const issued = this.clock().toString(36);
    return `${issued}.${this.sign(issued)}`;
  }

  private nonceAge(nonce: string): number | 'forged' {
    const [issued, signature] = nonce.split('.');
    if (!issued || !signature || !/^[0-9a-z]+$/.test(issued)) return 'forged';
    const expected = Buffer.from(this.sign(issued));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'forged';
    const age = this.clock() - parseInt(issued, 36);
    return age < 0 ? 'forged' : age;
  }

  private sign(issued: string): string {
    return createHmac('sha256', this.key).update(issued).digest('base64url').slice(0, 22);
  }
}
