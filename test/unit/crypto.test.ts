import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateEncryptionKeys, safeEqual, seal, unseal } from '../../lib/crypto';
import { loadConfig } from '../../lib/config';

const keysFrom = (value: string) => loadConfig({ MONGODB_URI: 'mongodb://x/y', ENCRYPTION_KEYS: value }).ENCRYPTION_KEYS;

describe('secrets at rest (AES-256-GCM with key IDs)', () => {
  const keys = keysFrom(generateEncryptionKeys('k1'));

  it('seals and unseals, and the ciphertext does not contain the secret', () => {
    const sealed = seal('EAAG-page-token-123', keys);
    assert.equal(sealed.kid, 'k1');
    assert.ok(!JSON.stringify(sealed).includes('EAAG-page-token-123'));
    assert.equal(unseal(sealed, keys), 'EAAG-page-token-123');
    assert.notEqual(seal('same', keys).iv, seal('same', keys).iv);
  });

  it('decrypts with an older key after rotation, and encrypts with the new one', () => {
    const old = seal('refresh-token', keys);
    const rotated = [...keysFrom(generateEncryptionKeys('k2')), ...keys];
    assert.equal(unseal(old, rotated), 'refresh-token');
    assert.equal(seal('x', rotated).kid, 'k2');
  });

  it('refuses tampered ciphertext and unknown keys', () => {
    const sealed = seal('secret', keys);
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = data[0]! ^ 1;
    assert.throws(() => unseal({ ...sealed, data: data.toString('base64') }, keys));
    assert.throws(() => unseal({ ...sealed, kid: 'gone' }, keys), /"gone" is not configured/);
  });

  it('compares strings in constant time', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
  });
});
