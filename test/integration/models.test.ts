// The unique indexes are what make every write idempotent without transactions: check they hold on
// the real database (FerretDB here; MongoDB in production).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Types } from 'mongoose';
import { ContactIdentityModel, ContactModel, ConversationModel, DailyStatModel, MessageModel, WebhookEventModel } from '../../models';
import { insertNew } from '../../activities/inbox-writes';
import { conversationKey, identityKey, messageKey } from '../../lib/domain/keys';
import { useTestDatabase } from '../helpers/env';

const isDuplicate = (err: unknown) => (err as { code?: number }).code === 11000;

describe('models and their indexes', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  const tenantId = new Types.ObjectId();
  const channelId = new Types.ObjectId();
  before(async () => { db = await useTestDatabase(); });
  after(async () => { await db?.drop(); });

  const message = (over: Record<string, unknown> = {}) => ({
    tenantId, channelId, conversationId: 'conv-1', platform: 'messenger' as const, direction: 'inbound' as const,
    status: 'received' as const, statusRank: 0, text: 'hi', platformTimestamp: new Date(), ...over,
  });

  it('stores a platform message once per channel', async () => {
    await MessageModel.create(message({ _id: messageKey(String(channelId), 'm.1'), externalId: 'm.1' }));
    await assert.rejects(MessageModel.create(message({ _id: messageKey(String(channelId), 'm.1'), externalId: 'm.1' })), isDuplicate);
    // The same platform ID on another channel is another message.
    await MessageModel.create(message({ _id: messageKey(String(new Types.ObjectId()), 'm.1'), externalId: 'm.1' }));
  });

  it('inserts pages idempotently in bulk: a retried page adds nothing, a partly new one adds the new', async () => {
    const page = (ids: string[]) => ids.map((id) => ({ ...message({ externalId: id }), _id: messageKey(String(channelId), id), conversationId: 'c' }));
    assert.equal((await insertNew(MessageModel.collection, page(['a', 'b', 'c']))).size, 3);
    assert.equal((await insertNew(MessageModel.collection, page(['a', 'b', 'c']))).size, 0);
    assert.deepEqual([...(await insertNew(MessageModel.collection, page(['c', 'd'])))], [messageKey(String(channelId), 'd')]);
  });

  it('keeps one conversation per channel thread, one event per platform event, one stat per day', async () => {
    const conversation = { _id: conversationKey(String(channelId), 't_1'), tenantId, channelId, platform: 'messenger' as const, externalId: 't_1', participant: { externalId: 'psid1' } };
    await ConversationModel.create(conversation);
    await assert.rejects(ConversationModel.create(conversation), isDuplicate);

    const event = { _id: `${channelId}:messenger:message:m.9`, source: 'meta', kind: 'message', accountId: '101', channelId, tenantId, state: 'pending' as const, event: { text: 'x' }, deliveryId: 'meta:abc', receivedAt: new Date() };
    await WebhookEventModel.create(event);
    await assert.rejects(WebhookEventModel.create(event), isDuplicate);

    await DailyStatModel.create({ tenantId, platform: 'gmail', day: '2026-11-21' });
    await assert.rejects(DailyStatModel.create({ tenantId, platform: 'gmail', day: '2026-11-21' }), isDuplicate);
    await assert.rejects(DailyStatModel.create({ tenantId, platform: 'gmail', day: '21/11/2026' }), /day/);
  });

  it('knows a contact identity once per channel', async () => {
    const jane = await ContactModel.create({ tenantId, name: 'Jane' });
    const identity = { _id: identityKey(String(channelId), 'igsid-1'), tenantId, contactId: jane._id, channelId, platform: 'instagram' as const, externalId: 'igsid-1', handle: 'jane' };
    await ContactIdentityModel.create(identity);
    await assert.rejects(ContactIdentityModel.create({ ...identity, contactId: new Types.ObjectId() }), isDuplicate);
    // The same person ID on another channel is another identity (IDs are scoped per page/account).
    const other = new Types.ObjectId();
    await ContactIdentityModel.create({ ...identity, _id: identityKey(String(other), 'igsid-1'), channelId: other });
  });
});
