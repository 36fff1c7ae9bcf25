// POST /v1/conversations/:id/read through the real API, worker and mark-read workflow to every
// platform simulator: the unread count is zero at once, and the platform gets its own mark-read
// call exactly once per latest inbound message (WhatsApp Cloud read status, Meta mark_seen for
// Messenger / Instagram / Instagram Login, Gmail batchModify, IMAP \Seen) however often the agent
// reads; platforms without read receipts are not called; a transient error is retried, a revoked
// token fails once and flags the channel; another tenant gets a 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ImapFlow } from 'imapflow';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import type { Platform } from '../../lib/domain/channel';
import { MessageModel } from '../../models';
import { connectChannel } from '../helpers/channels';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

type World = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Recorded = { seq: number; platform: string; endpoint: string; method: string; path: string; body: string; status: number };

interface Case {
  platform: Platform;
  /** The sandbox module (admin customers path). */
  sandbox: string;
  approve?: string;
  credentials?: (w: World) => Record<string, unknown>;
  accountId: (w: World) => string | undefined;
  /** Only webhooks bring its messages (no history API to sync). */
  webhooksOnly?: boolean;
  /** Is this recorded request the platform's mark-read call for these messages of this customer? (HTTP platforms) */
  isMarkRead?: (r: Recorded, read: { messageIds: string[]; customerId: string }) => boolean;
}

const json = (body: string) => { try { return JSON.parse(body); } catch { return undefined; } };
const metaSeen = (r: Recorded, w: { customerId: string }) => r.platform === 'meta' && r.method === 'POST' && json(r.body)?.sender_action === 'mark_seen' && json(r.body)?.recipient?.id === w.customerId;

const CASES: Case[] = [
  {
    platform: 'whatsapp_cloud', sandbox: 'whatsapp', webhooksOnly: true, accountId: (w) => w.whatsapp.wabas[0].phoneNumbers[0].id,
    credentials: (w) => ({ accessToken: w.whatsapp.systemUserToken, phoneNumberId: w.whatsapp.wabas[0].phoneNumbers[0].id }),
    // Timestamps are whole seconds: of two messages in the same second either is "the latest".
    isMarkRead: (r, w) => r.platform === 'whatsapp' && r.method === 'POST' && json(r.body)?.status === 'read' && w.messageIds.includes(json(r.body)?.message_id),
  },
  { platform: 'messenger', sandbox: 'meta', approve: 'sandbox_action=approve', accountId: () => '101000000000001', isMarkRead: metaSeen },
  { platform: 'instagram', sandbox: 'meta', approve: 'sandbox_action=approve', accountId: () => '17841400000000101', isMarkRead: metaSeen },
  { platform: 'instagram_login', sandbox: 'meta', approve: 'sandbox_action=approve', accountId: (w) => w.meta.instagramLogin[0].id, isMarkRead: metaSeen },
  {
    platform: 'gmail', sandbox: 'google', approve: 'sandbox_decision=approve', accountId: () => undefined,
    isMarkRead: (r, w) => r.platform === 'google' && r.endpoint === 'messages.batchModify' && w.messageIds.some((id) => (json(r.body)?.ids ?? []).includes(id)),
  },
  {
    platform: 'email', sandbox: 'email', accountId: () => 'support@shop.example',
    credentials: (w) => {
      const mailbox = w.email.mailboxes[0];
      const server = (s: { port: number }) => ({ host: w.email.host, port: s.port, secure: false, user: mailbox.login, password: mailbox.password });
      return { address: mailbox.address, imap: server(w.email.imap), smtp: server(w.email.smtp) };
    },
  },
];

describe('mark read on the platform', () => {
  const taskQueue = uniqueName('markread');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key: string;
  let world: World;
  const channels = new Map<Platform, string>();

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { world: { conversations: 1, messagesPerConversation: 2 } }, listen: true, redirectUris: ['meta', 'instagram', 'google'], webhookTargets: ['meta', 'whatsapp'] });
    ({ sb, api, key } = stack);
    world = (await sb.admin('GET', '/world')).json;
  });
  after(() => stack?.close());

  const recorded = async (): Promise<Recorded[]> => (await sb.admin('GET', '/requests')).json.data;
  const conversation = async (id: string, k = key) => (await api.call('GET', `/v1/conversations/${encodeURIComponent(id)}`, { key: k })).json.conversation;
  const markRead = (id: string, k = key) => api.call('POST', `/v1/conversations/${encodeURIComponent(id)}/read`, { key: k });

  const connect = async (c: Pick<Case, 'platform' | 'approve' | 'credentials'>) => (await connectChannel(api, key, { platform: c.platform, credentials: c.credentials?.(world), approve: c.approve })).id;

  /** A customer writes on the platform; returns the stored message's conversation. */
  async function customerWrites(c: Pick<Case, 'platform' | 'sandbox' | 'accountId' | 'webhooksOnly'>, channelId: string, text: string, customerId?: string) {
    const wrote = await sb.admin('POST', `/customers/${c.sandbox}/messages`, { ...(c.accountId(world) ? { accountId: c.accountId(world) } : {}), ...(customerId ? { customerId } : {}), text });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    if (!c.webhooksOnly) await api.call('POST', `/v1/channels/${channelId}/sync`, { key });
    const message = (await eventually(`${c.platform} message stored`, () => MessageModel.findById(`${channelId}:${wrote.json.messageId}`).lean(), 30_000))!;
    // …and counted in its conversation (what a read then refers to).
    await eventually('conversation summary moved on', async () => {
      const conv = await conversation(message.conversationId);
      return conv?.lastInboundAt && Date.parse(conv.lastInboundAt) >= message.platformTimestamp.getTime();
    });
    return { conversationId: message.conversationId, messageId: String(wrote.json.messageId), customerId: String(wrote.json.customerId), messageIds: [String(wrote.json.messageId)] };
  }

  /** INBOX \Seen of a mail, read with a separate IMAP session. */
  async function emailSeen(messageId: string): Promise<boolean> {
    const mailbox = world.email.mailboxes[0];
    const client = new ImapFlow({ host: world.email.host, port: world.email.imap.port, secure: false, auth: { user: mailbox.login, pass: mailbox.password }, logger: false, disableAutoIdle: true });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX', { readOnly: true });
      const uids = await client.search({ header: { 'message-id': messageId } }, { uid: true });
      assert.ok(uids && uids.length === 1, `mail ${messageId} is in INBOX`);
      const msg = await client.fetchOne(String(uids[0]), { flags: true }, { uid: true });
      return !!msg && !!msg.flags?.has('\\Seen');
    } finally {
      await client.logout();
    }
  }

  for (const c of CASES) {
    it(`${c.platform}: unread 0 at once, the platform marked read once however often the agent reads`, async () => {
      const channelId = await connect(c);
      channels.set(c.platform, channelId);
      // A customer new to the sandbox: the conversation holds exactly the messages written here.
      const first = await customerWrites(c, channelId, `First question on ${c.platform}`, `fresh-${c.platform.replace(/_/g, '-')}${c.sandbox === 'google' ? '@example.com' : ''}`);
      const written = await customerWrites(c, channelId, `Second question on ${c.platform}`, first.customerId);
      assert.equal(written.conversationId, first.conversationId, 'one conversation');
      assert.ok((await conversation(written.conversationId)).unreadCount >= 2);
      const since = Math.max(0, ...(await recorded()).map((r) => r.seq));

      // Two reads at once, then one more: one workflow, one platform call.
      const [a, b] = await Promise.all([markRead(written.conversationId), markRead(written.conversationId)]);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      assert.equal(a.json.conversation.unreadCount, 0, 'zero in the answer, without waiting for the platform');
      assert.deepEqual([a.json.platformRead.status, b.json.platformRead.status].sort(), ['already_requested', 'requested']);
      const workflowId: string = a.json.platformRead.workflowId;
      assert.equal(b.json.platformRead.workflowId, workflowId);
      assert.deepEqual(await api.temporal.workflow.getHandle(workflowId).result(), { status: 'marked', messages: 2 });
      const again = await markRead(written.conversationId);
      assert.equal(again.json.platformRead.status, 'already_requested');

      if (c.isMarkRead) {
        const calls = (await recorded()).filter((r) => r.seq > since && c.isMarkRead!(r, { customerId: written.customerId, messageIds: [first.messageId, written.messageId] }));
        assert.equal(calls.length, 1, `${c.platform}: one mark-read call, got ${calls.length}`);
        assert.ok(calls[0]!.status < 300, `${c.platform}: the platform accepted it (${calls[0]!.status})`);
      } else {
        assert.ok(await emailSeen(first.messageId), 'the first mail is \\Seen');
        assert.ok(await emailSeen(written.messageId), 'the second mail is \\Seen');
      }

      // A new message is a new latest inbound message: a new platform call. (The sandbox clock moves
      // on first: WhatsApp stamps whole seconds, and a message in the same second is not "newer".)
      await sb.admin('POST', '/clock', { advanceSeconds: 2 });
      const later = await customerWrites(c, channelId, `Third question on ${c.platform}`, first.customerId);
      assert.equal(later.conversationId, written.conversationId);
      const sinceNext = Math.max(0, ...(await recorded()).map((r) => r.seq));
      const next = await markRead(written.conversationId);
      assert.equal(next.json.platformRead.status, 'requested');
      assert.notEqual(next.json.platformRead.workflowId, workflowId);
      assert.equal((await api.temporal.workflow.getHandle(next.json.platformRead.workflowId).result()).status, 'marked');
      if (c.isMarkRead) assert.equal((await recorded()).filter((r) => r.seq > sinceNext && c.isMarkRead!(r, later)).length, 1);
      else assert.ok(await emailSeen(later.messageId));
    });
  }

  it('whatsapp_twilio (no read receipts): unread zeroed, no workflow, no platform call', async () => {
    const c = { platform: 'whatsapp_twilio' as const, sandbox: 'twilio', accountId: () => undefined, credentials: (w: World) => ({ accountSid: w.twilio.accountSid, authToken: w.twilio.authToken, whatsappNumber: w.twilio.senders[0].address }) };
    const channelId = await connect(c);
    const written = await customerWrites(c, channelId, 'Hello from WhatsApp via Twilio', 'twilio-customer');
    assert.ok((await conversation(written.conversationId)).unreadCount > 0);
    const since = Math.max(0, ...(await recorded()).map((r) => r.seq));
    const res = await markRead(written.conversationId);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.conversation.unreadCount, 0);
    assert.deepEqual(res.json.platformRead, { status: 'unsupported', workflowId: null });
    assert.equal((await recorded()).filter((r) => r.seq > since && r.platform === 'twilio').length, 0, 'Twilio was not called');
    assert.equal((await conversation(written.conversationId)).unreadCount, 0);
  });

  it('a transient platform error is retried: the read goes through once', async () => {
    const c = CASES.find((x) => x.platform === 'whatsapp_cloud')!;
    const channelId = channels.get('whatsapp_cloud')!;
    const written = await customerWrites(c, channelId, 'Are you open today?', 'retry-customer');
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
    try {
      const since = Math.max(0, ...(await recorded()).map((r) => r.seq));
      const res = await markRead(written.conversationId);
      assert.equal((await api.temporal.workflow.getHandle(res.json.platformRead.workflowId).result()).status, 'marked');
      const calls = (await recorded()).filter((r) => r.seq > since && c.isMarkRead!(r, written));
      assert.deepEqual(calls.map((r) => r.status), [503, 200], 'failed once, retried once');
    } finally {
      await sb.admin('DELETE', '/faults');
    }
  });

  it('another tenant: 404, and nothing changes', async () => {
    const other = (await createTenantWithAdminKey('Other')).secret;
    const c = CASES.find((x) => x.platform === 'whatsapp_cloud')!;
    const written = await customerWrites(c, channels.get('whatsapp_cloud')!, 'One more thing', 'tenant-customer');
    const before = (await conversation(written.conversationId)).unreadCount;
    assert.ok(before > 0);
    const res = await markRead(written.conversationId, other);
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'not_found');
    assert.equal((await conversation(written.conversationId)).unreadCount, before);
    assert.equal((await markRead(`${channels.get('whatsapp_cloud')!}:nope`)).status, 404);
  });

  it('a revoked token: the workflow fails after one call (no retry loop) and the channel needs reauth', async () => {
    // WhatsApp Cloud: webhooks bring its messages and it has no history to sync, so the mark-read
    // call is the only one that meets the revoked token.
    const c = CASES.find((x) => x.platform === 'whatsapp_cloud')!;
    const channelId = channels.get('whatsapp_cloud')!;
    const written = await customerWrites(c, channelId, 'Hello? Anyone?', 'revoked-customer');
    await sb.admin('POST', '/tokens/revoke', { token: world.whatsapp.systemUserToken });
    const since = Math.max(0, ...(await recorded()).map((r) => r.seq));
    const res = await markRead(written.conversationId);
    assert.equal(res.json.platformRead.status, 'requested');
    await assert.rejects(api.temporal.workflow.getHandle(res.json.platformRead.workflowId).result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String((err.cause as Error | undefined)?.cause ?? err.cause), /Reauth|190/);
      return true;
    });
    const calls = (await recorded()).filter((r) => r.seq > since && c.isMarkRead!(r, written));
    assert.deepEqual(calls.map((r) => r.status), [401], 'one refused call, not retried');
    await eventually('channel flagged', async () => (await api.call('GET', `/v1/channels/${channelId}`, { key })).json.channel.status === 'reauth_required');
    // Read again while the channel waits for reauth: a new run, which fails at once without a call.
    const retry = await markRead(written.conversationId);
    assert.equal(retry.json.platformRead.status, 'requested', 'a failed run may be started again');
    await assert.rejects(api.temporal.workflow.getHandle(retry.json.platformRead.workflowId).result(), WorkflowFailedError);
    assert.equal((await recorded()).filter((r) => r.seq > since && c.isMarkRead!(r, written)).length, 1);
  });
});
