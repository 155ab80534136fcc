// Connector credentials are encrypted at rest with AES-256-GCM under a key from
// configuration (CONNECTOR_SECRET_KEY). The database alone never reveals them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const version = 'v1';

export class SecretBoxError extends Error {}

export class SecretBox {
  private readonly key: Buffer;

  constructor(keyBase64: string) {
    const key = Buffer.from(keyBase64, 'base64');
    if (key.length !== 32) throw new SecretBoxError('CONNECTOR_SECRET_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)');
    this.key = key;
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  seal(value: unknown, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    // Binding the row id means a ciphertext copied onto another instance does not decrypt.
    cipher.setAAD(Buffer.from(associatedData));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [version, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
  }

  open(sealed: string, associatedData: string): unknown {
    const [tag, iv, authTag, ciphertext] = sealed.split(':');
    if (tag !== version || !iv || !authTag || !ciphertext) throw new SecretBoxError('sealed secret has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(authTag, 'base64'));
    try {
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch (error) {
      throw new SecretBoxError(`cannot decrypt connector secrets (wrong CONNECTOR_SECRET_KEY?): ${(error as Error).message}`);
    }
  }
}
