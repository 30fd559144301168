// Images encrypted with AES-256-GCM, at rest (the store) or on their way (the peer endpoint asked
// with `?encrypt=1`), with the cluster's image key. The IV is chosen by the sender (and kept by a
// resumable upload, so a retry rebuilds the very same bytes); the tag authenticates the ciphertext.
import crypto from 'crypto';
import { Transform } from 'stream';

export const ALG = 'aes-256-gcm';

export interface Sealing {
  key: Buffer;
  iv: Buffer;
}

export const newIv = (): Buffer => crypto.randomBytes(12);

export const encryptor = (s: Sealing): crypto.CipherGCM => crypto.createCipheriv(ALG, s.key, s.iv);

/**
 * Decrypts as bytes pass and checks the tag when the stream ends: `tag` is asked for only then,
 * because an answer carries it as a trailer, known once the answer is complete.
 */
export function decryptor(s: Sealing, tag: () => string): Transform {
  const decipher = crypto.createDecipheriv(ALG, s.key, s.iv);
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      cb(null, decipher.update(chunk));
    },
    flush(cb) {
      try {
        decipher.setAuthTag(Buffer.from(tag(), 'hex'));
        cb(null, decipher.final());
      } catch {
        cb(new Error('the encrypted image does not authenticate'));
      }
    },
  });
}
