// What the code relies on from the database, checked on the one the tests run (our FerretDB build,
// or MONGODB_URI): single-document updates are atomic under concurrency — counters lose nothing,
// conditional updates never act on a stale read — and the event log hands out each sequence number
// once to concurrent writers; deletes by `_id` remove exactly what they name.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mongoose from 'mongoose';
import { Types } from 'mongoose';
import { appendEvents, EventFollower } from '../../lib/event-log';
import { takeSendSlot } from '../../activities/send-pacing';
import { sendIntervalMs } from '../../lib/domain/send-rate';
import { useTestDatabase } from '../helpers/env';

describe('database atomicity', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  before(async () => { db = await useTestDatabase(); });
  after(async () => { await db?.drop(); });

  it('loses no concurrent $inc, by update or by findOneAndUpdate', async () => {
    const c = mongoose.connection.db!.collection<{ _id: string; n: number }>('atomicity_probe');
    await c.insertOne({ _id: 'counter', n: 0 });
    const seen = await Promise.all(Array.from({ length: 50 }, () => c.findOneAndUpdate({ _id: 'counter' }, { $inc: { n: 1 } }, { returnDocument: 'after' })));
    assert.equal(new Set(seen.map((d) => d!.n)).size, 50, 'each caller saw its own increment');
    await Promise.all(Array.from({ length: 50 }, () => c.updateOne({ _id: 'counter' }, { $inc: { n: 1 } })));
    assert.equal((await c.findOne({ _id: 'counter' }))!.n, 100);
  });

  it('gives concurrent event writers distinct, gap-free sequence numbers', async () => {
    const tenant = new Types.ObjectId().toHexString();
    const seqs = (await Promise.all(Array.from({ length: 30 }, (_, i) => appendEvents(tenant, [
      { type: 'channel.status', key: `probe:${i}:a`, data: {} }, { type: 'channel.status', key: `probe:${i}:b`, data: {} },
    ])))).flat();
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1));
    const follower = new EventFollower(tenant, 0);
    assert.equal((await follower.read()).length, 60);
  });

  it('spaces concurrent send slots by the channel rate, never two in one slot', async () => {
    const channel = new Types.ObjectId().toHexString();
    const now = Date.now();
    const slots = (await Promise.all(Array.from({ length: 40 }, () => takeSendSlot(channel, 20, now)))).sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) assert.ok(slots[i]! - slots[i - 1]! >= sendIntervalMs(20) - 1e-6, `slots ${i - 1} and ${i} are ${slots[i]! - slots[i - 1]!} ms apart`);
    assert.ok(slots[0]! >= now);
  });

  it('deletes by _id exactly what the filter names, and counts it', async () => {
    const c = mongoose.connection.db!.collection<{ _id: string | Types.ObjectId; n?: number }>('delete_probe');
    const oid = new Types.ObjectId();
    await c.insertMany([...Array.from({ length: 10 }, (_, i) => ({ _id: `k${i}`, n: i })), { _id: oid, n: 99 }]);
    // Names that are not there, and the same name twice, count once or not at all.
    assert.equal((await c.deleteMany({ _id: { $in: ['k1', 'k2', 'k2', 'missing'] } })).deletedCount, 2);
    assert.equal((await c.deleteOne({ _id: 'k3' })).deletedCount, 1);
    assert.equal((await c.deleteOne({ _id: 'k3' })).deletedCount, 0);
    assert.equal((await c.deleteMany({ _id: { $in: [oid] } })).deletedCount, 1);
    assert.equal((await c.countDocuments({ _id: oid })), 0);
    // deleteOne with several candidates removes one; other filters still apply in full.
    assert.equal((await c.deleteOne({ _id: { $in: ['k4', 'k5'] } })).deletedCount, 1);
    assert.equal((await c.deleteMany({ _id: { $in: ['k6', 'k7'] }, n: 7 })).deletedCount, 1);
    const left = (await c.find({}).toArray()).map((d) => String(d._id)).sort();
    assert.equal(left.length, 5);
    assert.deepEqual(left.filter((id) => id !== 'k4' && id !== 'k5'), ['k0', 'k6', 'k8', 'k9']);
  });
});
