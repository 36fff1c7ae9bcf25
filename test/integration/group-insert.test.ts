// Group commit of webhook queue inserts, on the real database: concurrent callers share round
// trips, each learns exactly which of its own documents were new, and a failure reaches every
// caller of that batch (none is acknowledged).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mongoose from 'mongoose';
import { GroupInsert } from '../../api/webhooks/group-insert';
import { useTestDatabase } from '../helpers/env';

describe('group insert', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  before(async () => { db = await useTestDatabase(); });
  after(async () => { await db?.drop(); });

  it('writes concurrent callers together and tells each what it inserted', async () => {
    const collection = mongoose.connection.db!.collection('group_insert_test');
    const group = new GroupInsert(() => collection);
    const first = await group.insert([{ _id: 'a0' }]);
    assert.deepEqual([...first], ['a0'], 'a lone caller is written at once');
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => group.insert([{ _id: `a${i}` }, { _id: `b${i}` }])));
    assert.ok(group.stats.batches < 50, `200 concurrent callers shared round trips (${group.stats.batches})`);
    assert.deepEqual([...results[0]!], ['b0'], 'a0 was already stored');
    for (let i = 1; i < 200; i++) assert.deepEqual([...results[i]!].sort(), [`a${i}`, `b${i}`]);
    assert.equal(await collection.countDocuments(), 400, 'a0…a199 and b0…b199, each once');
  });

  it('fails every caller of a batch that could not be written', async () => {
    const group = new GroupInsert(() => ({ insertMany: async () => { throw new Error('database down'); } }) as never);
    const outcomes = await Promise.allSettled([group.insert([{ _id: 'x' }]), group.insert([{ _id: 'y' }])]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  });
});
