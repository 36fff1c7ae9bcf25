import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { untilWritten } from '../../activities/activity-context';

describe('untilWritten: bookkeeping after a platform call is repeated until it lands', () => {
  test('a database outage of a few failed writes is waited out, each try told it is a repeat', async () => {
    const attempts: number[] = [];
    const result = await untilWritten('recording', async (attempt) => {
      attempts.push(attempt);
      if (attempt < 4) throw new Error('connection closed');
      return 'recorded';
    }, { pauseMs: 1 });
    assert.equal(result, 'recorded');
    assert.deepEqual(attempts, [1, 2, 3, 4]);
  });

  test('past its budget the last error reaches the caller', async () => {
    let calls = 0;
    await assert.rejects(untilWritten('recording', async () => { calls++; throw new Error(`down #${calls}`); }, { pauseMs: 20, budgetMs: 100 }), /down #\d/);
    assert.ok(calls >= 2 && calls <= 4, `tried ${calls} times within 100 ms`);
  });
});
