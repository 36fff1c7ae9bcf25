import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config';
import { generateEncryptionKeys } from '../../lib/crypto';

const valid = { MONGODB_URI: 'mongodb://localhost:27017/switchboard', ENCRYPTION_KEYS: generateEncryptionKeys('k1') };

describe('configuration', () => {
  it('applies defaults to a minimal environment', () => {
    const config = loadConfig(valid);
    assert.equal(config.API_PORT, 3000);
    assert.equal(config.TEMPORAL_ADDRESS, 'localhost:7233');
    assert.equal(config.TEMPORAL_TASK_QUEUE, 'switchboard');
    assert.equal(config.ENCRYPTION_KEYS[0]!.id, 'k1');
    assert.equal(config.ENCRYPTION_KEYS[0]!.key.length, 32);
  });

  it('lists every bad variable at once, by name', () => {
    try {
      loadConfig({ API_PORT: 'eighty', TEMPORAL_ADDRESS: 'no-port', ENCRYPTION_KEYS: 'k1:short', LOG_LEVEL: 'loud' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const names = err.problems.map((p) => p.split(' ')[0]).sort();
      assert.deepEqual(names, ['API_PORT', 'ENCRYPTION_KEYS', 'LOG_LEVEL', 'MONGODB_URI', 'TEMPORAL_ADDRESS']);
      assert.match(err.message, /MONGODB_URI is required/);
      assert.match(err.message, /TEMPORAL_ADDRESS must be host:port/);
    }
  });

  it('accepts several encryption keys, the first one active', () => {
    const config = loadConfig({ ...valid, ENCRYPTION_KEYS: `${generateEncryptionKeys('new')},${generateEncryptionKeys('old')}` });
    assert.deepEqual(config.ENCRYPTION_KEYS.map((k) => k.id), ['new', 'old']);
  });
});
