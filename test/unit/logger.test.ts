import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { log: createLogger({ name: 't', pretty: 'false' }, stream), text: () => lines.join('') };
}

describe('log redaction', () => {
  it('never writes tokens, secrets, passwords or Authorization headers', () => {
    const { log, text } = capture();
    log.info({
      req: { headers: { authorization: 'Bearer sbk_live_secret' } },
      access_token: 'EAAG-access',
      channel: { credentials: { refreshToken: 'rt-1' }, settings: { smtp: { password: 'hunter2' } } },
      appSecret: 'meta-app-secret',
      webhook: { 'x-hub-signature-256': 'sha256=abc' },
    }, 'connecting');
    const out = text();
    for (const secret of ['sbk_live_secret', 'EAAG-access', 'rt-1', 'hunter2', 'meta-app-secret', 'sha256=abc']) {
      assert.ok(!out.includes(secret), `log contains ${secret}: ${out}`);
    }
    assert.match(out, /\[redacted\]/);
    assert.match(out, /connecting/);
  });

  it('keeps ordinary fields', () => {
    const { log, text } = capture();
    log.info({ channelId: 'c1', status: 'active', error: { code: 'E1' } }, 'ok');
    const line = JSON.parse(text());
    assert.equal(line.channelId, 'c1');
    assert.equal(line.error.code, 'E1');
  });
});
