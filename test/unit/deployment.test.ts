// docker-compose.yml is for production users; Docker does not run here, so Debian's
// docker-compose validates it (and resolves it, so we can check what it would start).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '../..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const compose = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

describe('docker-compose.yml', { skip: hasCompose ? false : 'docker-compose is not installed (.ci/run installs it)' }, () => {
  it('is valid and starts MongoDB, Temporal with PostgreSQL, the Temporal UI, api and worker', () => {
    const quiet = compose(['config', '-q'], { ENCRYPTION_KEYS: 'k1:AAAA' });
    assert.equal(quiet.status, 0, quiet.stderr);
    const services = compose(['config', '--services'], { ENCRYPTION_KEYS: 'k1:AAAA' });
    assert.deepEqual(services.stdout.trim().split('\n').sort(), ['api', 'mongodb', 'postgresql', 'temporal', 'temporal-ui', 'worker']);
    const resolved = compose(['config'], { ENCRYPTION_KEYS: 'k1:AAAA' }).stdout;
    assert.match(resolved, /replicaSet=rs0/);
    assert.match(resolved, /workers\/main\.ts/);
  });

  it('refuses to run without ENCRYPTION_KEYS, naming it', () => {
    const res = compose(['config', '-q'], {});
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /ENCRYPTION_KEYS/);
  });
});
