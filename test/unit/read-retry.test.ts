import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retryRead, type ReadRetry } from '../../activities/platforms/http';
import { PlatformError } from '../../activities/platforms/types';

const fast: ReadRetry = { attempts: 3, delaysMs: [5, 10], budgetMs: 5_000 };
const failing = (kind: 'retryable' | 'rate_limited' | 'reauth' | 'permanent', times: number) => {
  let calls = 0;
  const read = async () => {
    calls++;
    if (calls <= times) {
      throw new PlatformError('messenger', kind === 'rate_limited' ? { kind, message: 'slow down', retryAfterMs: 60_000 } : { kind, message: `${kind} #${calls}` }, 503);
    }
    return 'page';
  };
  return { read, calls: () => calls };
};

describe('retryRead: a platform read retried in place', () => {
  test('transient failures fewer than the attempts are absorbed', async () => {
    const r = failing('retryable', 2);
    assert.equal(await retryRead(r.read, fast), 'page');
    assert.equal(r.calls(), 3);
  });

  test('after the last attempt the last error reaches the caller', async () => {
    const r = failing('retryable', 5);
    await assert.rejects(retryRead(r.read, fast), /retryable #3/);
    assert.equal(r.calls(), 3);
  });

  test('rate limits, refused tokens and permanent errors are not repeated', async () => {
    for (const kind of ['rate_limited', 'reauth', 'permanent'] as const) {
      const r = failing(kind, 1);
      await assert.rejects(retryRead(r.read, fast), PlatformError);
      assert.equal(r.calls(), 1, kind);
    }
  });

  test('errors that are not platform errors (bugs) are not repeated', async () => {
    let calls = 0;
    await assert.rejects(retryRead(async () => { calls++; throw new TypeError('bug'); }, fast), TypeError);
    assert.equal(calls, 1);
  });

  test('no attempt starts after the time budget', async () => {
    const r = failing('retryable', 5);
    await assert.rejects(retryRead(r.read, { attempts: 10, delaysMs: [200], budgetMs: 100 }));
    assert.equal(r.calls(), 1);
  });
});
