import assert from 'node:assert/strict';
import { createHmac, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateEncryptionKeys } from '../../lib/crypto';
import { loadConfig } from '../../lib/config';
import { MEDIA_LINK_TTL_SECONDS, mediaLinkKeys, signedMediaUrl, verifyMediaLink } from '../../lib/media-link';
import { stateSigningKey } from '../../lib/oauth-state';

const keysFrom = (value: string) => loadConfig({ MONGODB_URI: 'mongodb://x/y', ENCRYPTION_KEYS: value }).ENCRYPTION_KEYS;

describe('signed media links', () => {
  const encryption = keysFrom(generateEncryptionKeys('k1'));
  const keys = mediaLinkKeys(encryption);
  const now = Date.UTC(2030, 0, 1);
  const parts = (url: string) => {
    const u = new URL(url);
    return { path: u.pathname, exp: u.searchParams.get('exp') ?? undefined, sig: u.searchParams.get('sig') ?? undefined };
  };

  it('signs <id>.<exp> with HMAC-SHA256 under a key derived from the active encryption key', () => {
    const url = signedMediaUrl('https://inbox.example/', 'med_abc', keys, { now });
    const { path, exp, sig } = parts(url);
    assert.equal(path, '/media/med_abc');
    assert.ok(url.startsWith('https://inbox.example/media/med_abc?'), url);
    assert.equal(Number(exp), now / 1000 + MEDIA_LINK_TTL_SECONDS, 'valid for 7 days');
    const derived = Buffer.from(hkdfSync('sha256', encryption[0]!.key, Buffer.alloc(0), 'switchboard/media-link', 32));
    assert.equal(sig, createHmac('sha256', derived).update(`med_abc.${exp}`).digest('hex'));
    assert.ok(!keys[0]!.equals(encryption[0]!.key), 'not the encryption key itself');
    assert.ok(!keys[0]!.equals(stateSigningKey(encryption)), 'not the OAuth state key');
  });

  it('accepts its own link until it expires, then says expired', () => {
    const { exp, sig } = parts(signedMediaUrl('https://x', 'med_1', keys, { now, ttlSeconds: 60 }));
    assert.deepEqual(verifyMediaLink('med_1', exp, sig, keys, now), { ok: true, exp: now / 1000 + 60 });
    assert.equal(verifyMediaLink('med_1', exp, sig!.toUpperCase(), keys, now + 59_000).ok, true);
    assert.deepEqual(verifyMediaLink('med_1', exp, sig, keys, now + 60_000), { ok: false, reason: 'expired' });
  });

  it('refuses a tampered signature, another ID, a moved expiry, and another key', () => {
    const { exp, sig } = parts(signedMediaUrl('https://x', 'med_1', keys, { now }));
    const flipped = `${sig!.slice(0, -1)}${sig!.endsWith('0') ? '1' : '0'}`;
    assert.deepEqual(verifyMediaLink('med_1', exp, flipped, keys, now), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verifyMediaLink('med_2', exp, sig, keys, now), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verifyMediaLink('med_1', String(Number(exp) + 1), sig, keys, now), { ok: false, reason: 'bad_signature' });
    const stranger = mediaLinkKeys(keysFrom(generateEncryptionKeys('k1')));
    assert.deepEqual(verifyMediaLink('med_1', exp, sig, stranger, now), { ok: false, reason: 'bad_signature' });
    // An expired link with a bad signature is a bad signature: expiry says nothing until signed.
    assert.deepEqual(verifyMediaLink('med_1', exp, flipped, keys, now + 30 * 86_400_000), { ok: false, reason: 'bad_signature' });
  });

  it('refuses missing or malformed parameters', () => {
    const { exp, sig } = parts(signedMediaUrl('https://x', 'med_1', keys, { now }));
    for (const [e, s] of [[undefined, sig], [exp, undefined], ['', sig], ['12a', sig], ['-5', sig], [exp, 'xyz'], [exp, sig!.slice(2)], [exp, `${sig}00`]] as const) {
      assert.deepEqual(verifyMediaLink('med_1', e, s, keys, now), { ok: false, reason: 'malformed' }, `${e} ${s}`);
    }
  });

  it('keeps links valid across a key rotation (old keys verify, the new one signs)', () => {
    const old = parts(signedMediaUrl('https://x', 'med_1', keys, { now }));
    const rotated = mediaLinkKeys([...keysFrom(generateEncryptionKeys('k2')), ...encryption]);
    assert.equal(verifyMediaLink('med_1', old.exp, old.sig, rotated, now).ok, true);
    const fresh = parts(signedMediaUrl('https://x', 'med_1', rotated, { now }));
    assert.notEqual(fresh.sig, old.sig);
    assert.equal(verifyMediaLink('med_1', fresh.exp, fresh.sig, rotated, now).ok, true);
    assert.equal(verifyMediaLink('med_1', fresh.exp, fresh.sig, keys, now).ok, false, 'the retired-only set does not know the new key');
  });

  it('encodes the ID into the path', () => {
    assert.equal(parts(signedMediaUrl('https://x', 'a b/c', keys, { now })).path, '/media/a%20b%2Fc');
  });
});
