// The unique indexes are what make every write idempotent without transactions: check they hold on
// the real database (FerretDB here; MongoDB in production).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Types } from 'mongoose';
import { ContactIdentityModel, ContactModel, ConversationModel, DailyStatModel, MessageModel, WebhookEventModel } from '../../models';
import { useTestDatabase } from '../helpers/env';

const isDuplicate = (err: unknown) => (err as { code?: number }).code === 11000;

describe('models and their indexes', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  const tenantId = new Types.ObjectId();
  const channelId = new Types.ObjectId();
  before(async () => { db = await useTestDatabase(); });
  after(async () => { await db?.drop(); });

  const message = (over: Record<string, unknown> = {}) => ({
    tenantId, channelId, conversationId: new Types.ObjectId(), platform: 'messenger' as const, direction: 'inbound' as const,
    status: 'received' as const, text: 'hi', platformTimestamp: new Date(), ...over,
  });

  it('stores a platform message once per channel', async () => {
    await MessageModel.create(message({ externalKey: `${channelId}:m.1`, externalId: 'm.1' }));
    await assert.rejects(MessageModel.create(message({ externalKey: `${channelId}:m.1`, externalId: 'm.1' })), isDuplicate);
    // The same platform ID on another channel is another message.
    await MessageModel.create(message({ externalKey: `${new Types.ObjectId()}:m.1`, externalId: 'm.1' }));
  });

  it('lets any number of pending sends exist before the platform names them', async () => {
    await MessageModel.create(message({ direction: 'outbound', status: 'pending' }));
    await MessageModel.create(message({ direction: 'outbound', status: 'pending' }));
    assert.equal(await MessageModel.countDocuments({ status: 'pending' }), 2);
  });

  it('upserts messages in bulk idempotently (a retried page adds nothing)', async () => {
    const ops = ['a', 'b', 'c'].map((id) => ({
      updateOne: { filter: { externalKey: `${channelId}:${id}` }, update: { $setOnInsert: message({ externalKey: `${channelId}:${id}`, externalId: id }) }, upsert: true },
    }));
    const first = await MessageModel.bulkWrite(ops, { ordered: false });
    const again = await MessageModel.bulkWrite(ops, { ordered: false });
    assert.equal(first.upsertedCount, 3);
    assert.equal(again.upsertedCount, 0);
  });

  it('keeps one conversation per channel thread, one event per platform event, one stat per day', async () => {
    const conversation = { tenantId, channelId, platform: 'messenger' as const, externalId: 't_1', participant: { externalId: 'psid1' } };
    await ConversationModel.create(conversation);
    await assert.rejects(ConversationModel.create(conversation), isDuplicate);

    const event = { eventKey: 'messenger:message:m.9', platform: 'messenger', kind: 'message', payload: { text: 'x' }, receivedAt: new Date() };
    await WebhookEventModel.create(event);
    await assert.rejects(WebhookEventModel.create(event), isDuplicate);

    await DailyStatModel.create({ tenantId, platform: 'gmail', day: '2026-11-21' });
    await assert.rejects(DailyStatModel.create({ tenantId, platform: 'gmail', day: '2026-11-21' }), isDuplicate);
    await assert.rejects(DailyStatModel.create({ tenantId, platform: 'gmail', day: '21/11/2026' }), /day/);
  });

  it('knows a contact identity once per channel', async () => {
    const jane = await ContactModel.create({ tenantId, name: 'Jane' });
    const identity = { tenantId, contactId: jane._id, channelId, platform: 'instagram' as const, externalId: 'igsid-1', handle: 'jane' };
    await ContactIdentityModel.create(identity);
    await assert.rejects(ContactIdentityModel.create({ ...identity, contactId: new Types.ObjectId() }), isDuplicate);
    // The same person ID on another channel is another identity (IDs are scoped per page/account).
    await ContactIdentityModel.create({ ...identity, channelId: new Types.ObjectId() });
  });
});
