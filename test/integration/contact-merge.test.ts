// Contact merge through the real API over real data: an Instagram customer and a WhatsApp customer
// (each written in through the sandbox's signed webhooks, drained by the real worker) merged into
// one contact with identities on both platforms; replies in each conversation still reach the
// right platform and recipient; new conversations of a merged identity land on the survivor;
// the merged contact leaves the list and reads as the survivor; a merge interrupted midway is
// finished by repeating it; bad input, self-merge and other tenants are refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Types } from 'mongoose';
import { storeConversations } from '../../activities/inbox-writes';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { identityKey } from '../../lib/domain/keys';
import { ContactIdentityModel, ContactModel, ConversationModel, MessageModel } from '../../models';
import { connectChannel } from '../helpers/channels';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

type World = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const IG_ACCOUNT = '17841400000000101';

describe('contact merge', () => {
  const taskQueue = uniqueName('merge');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let other = '';
  let world: World;
  let igChannel = '';
  let waChannel = '';
  let tenantId = '';

  const get = (path: string, k = key) => api.call('GET', path, { key: k });
  const post = (path: string, body?: unknown, k = key, headers: Record<string, string> = {}) => api.call('POST', path, { key: k, headers, ...(body === undefined ? {} : { body }) });
  const merge = (into: string, from: string, k = key) => post(`/v1/contacts/${into}/merge`, { contactId: from }, k);

  const connect = async (platform: string, body: { credentials?: unknown }, approve?: string) => (await connectChannel(api, key, { platform, ...body, approve })).id;

  /** A customer writes through the sandbox (a signed webhook to our API); returns their conversation and contact. */
  async function customerWrites(sandbox: 'meta' | 'whatsapp', channelId: string, customerKey: string, text: string) {
    const accountId = sandbox === 'meta' ? IG_ACCOUNT : world.whatsapp.wabas[0].phoneNumbers[0].id;
    const wrote = await sb.admin('POST', `/customers/${sandbox}/messages`, { accountId, customerId: customerKey, text });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    const message = (await eventually('message stored', () => MessageModel.findById(`${channelId}:${wrote.json.messageId}`).lean(), 30_000))!;
    const conversation = (await eventually('conversation stored', async () => {
      const c = (await get(`/v1/conversations/${encodeURIComponent(message.conversationId)}`)).json?.conversation;
      return c?.contactId && c;
    }))!;
    return { conversationId: conversation.id as string, contactId: conversation.contactId as string, customerId: String(wrote.json.customerId) };
  }

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta', 'whatsapp'], world: { conversations: 1, messagesPerConversation: 1 } }, listen: true, redirectUris: ['meta'], webhookTargets: ['meta', 'whatsapp'] });
    ({ sb, api, key } = stack);
    tenantId = String(stack.tenantId);
    other = (await createTenantWithAdminKey('Other')).secret;
    world = (await sb.admin('GET', '/world')).json;
    igChannel = await connect('instagram', {}, 'sandbox_action=approve');
    waChannel = await connect('whatsapp_cloud', { credentials: { accessToken: world.whatsapp.systemUserToken, phoneNumberId: world.whatsapp.wabas[0].phoneNumbers[0].id } });
  });
  after(() => stack?.close());

  it('merges an Instagram and a WhatsApp contact; replies still go to each platform and recipient', async () => {
    const ig = await customerWrites('meta', igChannel, 'ana-ig', 'Hi! Is the green dress back in stock?');
    const wa = await customerWrites('whatsapp', waChannel, 'ana-wa', 'Hola, soy Ana (the green dress)');
    assert.notEqual(ig.contactId, wa.contactId, 'two contacts before the merge');
    const before = { ig: (await get(`/v1/contacts/${ig.contactId}`)).json.contact, wa: (await get(`/v1/contacts/${wa.contactId}`)).json.contact };
    const listed = (await get('/v1/contacts?limit=100')).json.data.map((c: { id: string }) => c.id);
    assert.ok(listed.includes(ig.contactId) && listed.includes(wa.contactId));

    // Merge the WhatsApp contact into the Instagram one.
    const res = await merge(ig.contactId, wa.contactId);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.contact.id, ig.contactId);
    assert.deepEqual(res.json.merged, { contactId: wa.contactId, identitiesMoved: 1, conversationsMoved: 1 });
    const platforms = res.json.contact.identities.map((i: { platform: string }) => i.platform).sort();
    assert.deepEqual(platforms, ['instagram', 'whatsapp_cloud'], 'identities on both platforms');
    assert.ok(res.json.contact.identities.some((i: { channelId: string; externalId: string }) => i.channelId === waChannel && i.externalId === wa.customerId));
    // The survivor keeps a real name; where it only had a platform ID or handle, it takes the other's.
    const placeholder = (c: { name: string | null; identities: { externalId: string; handle: string | null }[] }) => !c.name || c.identities.some((i) => i.externalId === c.name || i.handle === c.name);
    assert.ok(placeholder(before.ig), `Instagram webhooks carry no name: ${before.ig.name}`);
    assert.ok(!placeholder(before.wa), 'WhatsApp carries the profile name');
    assert.equal(res.json.contact.name, before.wa.name);

    // GET of the merged contact answers with the survivor; the list no longer has it.
    const merged = await get(`/v1/contacts/${wa.contactId}`);
    assert.equal(merged.status, 200);
    assert.equal(merged.json.contact.id, ig.contactId);
    assert.equal(merged.headers.get('content-location'), `/v1/contacts/${ig.contactId}`);
    const after = (await get('/v1/contacts?limit=100')).json.data.map((c: { id: string }) => c.id);
    assert.ok(after.includes(ig.contactId));
    assert.ok(!after.includes(wa.contactId), 'the merged contact is no longer listed');
    assert.deepEqual((await get(`/v1/contacts?q=${wa.customerId}`)).json.data.map((c: { id: string }) => c.id), [ig.contactId], 'found by the merged identity');
    // Both conversations belong to the survivor.
    for (const conv of [ig, wa]) assert.equal((await get(`/v1/conversations/${encodeURIComponent(conv.conversationId)}`)).json.conversation.contactId, ig.contactId);

    // Replies: each through its own conversation's channel, to its own participant.
    const since = Math.max(0, ...(await sb.admin('GET', '/requests')).json.data.map((r: { seq: number }) => r.seq));
    const igReply = await post(`/v1/conversations/${encodeURIComponent(ig.conversationId)}/messages`, { text: 'Yes, it is back in size M.' }, key, { 'idempotency-key': 'merge-ig-1' });
    const waReply = await post(`/v1/conversations/${encodeURIComponent(wa.conversationId)}/messages`, { text: 'Sí, ya está disponible.' }, key, { 'idempotency-key': 'merge-wa-1' });
    assert.equal(igReply.status, 202, igReply.text);
    assert.equal(waReply.status, 202, waReply.text);
    for (const id of [igReply.json.message.id, waReply.json.message.id]) {
      await eventually(`reply ${id} sent`, async () => ['sent', 'delivered', 'read'].includes((await get(`/v1/messages/${encodeURIComponent(id)}`)).json.message.status), 60_000);
    }
    const sends = ((await sb.admin('GET', '/requests')).json.data as { seq: number; platform: string; method: string; path: string; status: number; body: string }[])
      .filter((r) => r.seq > since && r.method === 'POST' && /\/messages$/.test(r.path) && r.status === 200)
      .map((r) => ({ platform: r.platform, body: JSON.parse(r.body) }));
    const igSends = sends.filter((s) => s.platform === 'meta');
    const waSends = sends.filter((s) => s.platform === 'whatsapp');
    assert.equal(igSends.length, 1);
    assert.equal(igSends[0]!.body.recipient.id, ig.customerId, 'Instagram reply to the IGSID');
    assert.equal(igSends[0]!.body.message.text, 'Yes, it is back in size M.');
    assert.equal(waSends.length, 1);
    assert.equal(waSends[0]!.body.to, wa.customerId, 'WhatsApp reply to the wa_id');
    assert.equal(waSends[0]!.body.text.body, 'Sí, ya está disponible.');

    // New messages from the merged identity: the identity record now names the survivor, so the
    // inbox writer files them (and any new conversation of theirs) under it.
    const record = await ContactIdentityModel.findById(identityKey(waChannel, wa.customerId)).lean();
    assert.equal(String(record?.contactId), ig.contactId);
    const again = await customerWrites('whatsapp', waChannel, 'ana-wa', '¿Y en talla S?');
    assert.equal(again.conversationId, wa.conversationId);
    assert.equal(again.contactId, ig.contactId);
    await storeConversations({ tenantId, channelId: waChannel, platform: 'whatsapp_cloud' }, [{
      externalId: `new-thread-${wa.customerId}`, participant: { externalId: wa.customerId },
      messages: [{ externalId: `wamid.merge-${Date.now()}`, direction: 'inbound', sender: { externalId: wa.customerId }, text: 'new thread', timestamp: Date.now() }],
    }]);
    const fresh = await ConversationModel.findById(`${waChannel}:new-thread-${wa.customerId}`).lean();
    assert.equal(String(fresh?.contactId), ig.contactId, 'a new conversation of the merged identity belongs to the survivor');
    assert.equal(await ContactModel.countDocuments({ _id: new Types.ObjectId(wa.contactId) }), 1, 'the merged contact stays as a pointer, not recreated');

    // Repeating the merge is harmless.
    const repeat = await merge(ig.contactId, wa.contactId);
    assert.equal(repeat.status, 200, repeat.text);
    assert.deepEqual(repeat.json.merged, { contactId: wa.contactId, identitiesMoved: 0, conversationsMoved: 0 });
    assert.equal(repeat.json.contact.identities.length, res.json.contact.identities.length, 'no duplicate identities');
  });

  it('a merge interrupted after its first steps loses nothing, and repeating it finishes the job', async () => {
    const ig = await customerWrites('meta', igChannel, 'bruno-ig', 'Do you ship to Porto?');
    const wa = await customerWrites('whatsapp', waChannel, 'bruno-wa', 'Bruno here, about shipping');
    // As if the API died after recording the intent and moving the identity records (steps 1–2).
    await ContactModel.updateOne({ _id: new Types.ObjectId(wa.contactId) }, { $set: { mergingInto: new Types.ObjectId(ig.contactId) } });
    await ContactIdentityModel.updateMany({ contactId: new Types.ObjectId(wa.contactId) }, { $set: { contactId: new Types.ObjectId(ig.contactId) } });
    // Meanwhile nothing is lost: the contact is still listed and readable, its conversation still there.
    assert.ok((await get('/v1/contacts?limit=100')).json.data.some((c: { id: string }) => c.id === wa.contactId));
    assert.equal((await get(`/v1/contacts/${wa.contactId}`)).json.contact.id, wa.contactId);
    // Merging it elsewhere is refused while this merge is pending.
    const third = await customerWrites('meta', igChannel, 'carla-ig', 'Hello');
    assert.equal((await merge(third.contactId, wa.contactId)).status, 409);

    const res = await merge(ig.contactId, wa.contactId);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.contact.identities.map((i: { platform: string }) => i.platform).sort(), ['instagram', 'whatsapp_cloud'], 'the identities moved before the crash reached the survivor');
    assert.equal(res.json.merged.conversationsMoved, 1);
    assert.equal((await get(`/v1/conversations/${encodeURIComponent(wa.conversationId)}`)).json.conversation.contactId, ig.contactId);
    assert.equal((await get(`/v1/contacts/${wa.contactId}`)).json.contact.id, ig.contactId);
    assert.ok(!(await get('/v1/contacts?limit=100')).json.data.some((c: { id: string }) => c.id === wa.contactId));
    const doc = await ContactModel.findById(wa.contactId).lean();
    assert.equal(String(doc?.mergedInto), ig.contactId);
    assert.equal(doc?.mergingInto ?? null, null);
  });

  it('refuses self-merge, bad input, merged and other tenants\' contacts', async () => {
    const a = await customerWrites('meta', igChannel, 'dora-ig', 'one');
    const b = await customerWrites('whatsapp', waChannel, 'dora-wa', 'two');
    const c = await customerWrites('whatsapp', waChannel, 'eva-wa', 'three');
    const self = await merge(a.contactId, a.contactId);
    assert.equal(self.status, 422);
    assert.equal(self.json.error.code, 'cannot_merge_self');
    const bad = await post(`/v1/contacts/${a.contactId}/merge`, { contactId: 'nope' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /contactId/);
    assert.equal((await post(`/v1/contacts/${a.contactId}/merge`, {})).status, 400);
    assert.equal((await post('/v1/contacts/xyz/merge', { contactId: b.contactId })).status, 400);
    const missing = new Types.ObjectId().toHexString();
    assert.equal((await merge(a.contactId, missing)).status, 404);
    assert.equal((await merge(missing, a.contactId)).status, 404);
    // Another tenant sees neither contact, either way round.
    assert.equal((await merge(a.contactId, b.contactId, other)).status, 404);
    const otherContact = await ContactModel.create({ tenantId: new Types.ObjectId(), name: 'Someone else' });
    assert.equal((await merge(a.contactId, String(otherContact._id))).status, 404);
    assert.equal((await merge(String(otherContact._id), a.contactId)).status, 404);
    assert.equal((await get(`/v1/contacts/${a.contactId}`, other)).status, 404);

    // Once b is merged into a: merging into b, or b into c, is a conflict naming where b went.
    assert.equal((await merge(a.contactId, b.contactId)).status, 200);
    const intoMerged = await merge(b.contactId, c.contactId);
    assert.equal(intoMerged.status, 409);
    assert.equal(intoMerged.json.error.details.mergedInto, a.contactId);
    const mergedAgain = await merge(c.contactId, b.contactId);
    assert.equal(mergedAgain.status, 409);
    assert.equal(mergedAgain.json.error.details.mergedInto, a.contactId);
    // …and a merges into c fine, carrying b's pointer along: b now reads as c.
    assert.equal((await merge(c.contactId, a.contactId)).status, 200);
    assert.equal((await get(`/v1/contacts/${b.contactId}`)).json.contact.id, c.contactId);
    assert.deepEqual((await get(`/v1/contacts/${c.contactId}`)).json.contact.identities.map((i: { platform: string }) => i.platform).sort(), ['instagram', 'whatsapp_cloud', 'whatsapp_cloud']);
  });
});
