// Every platform through the whole product path against the sandbox: connect through the API
// (OAuth consent or credentials the platform checks), backfill of the seeded history by the channel
// workflow, then a new customer message picked up by incremental sync exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Platform } from '../../lib/domain/channel';
import { MessageModel } from '../../models';
import { connectChannel } from '../helpers/channels';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

type World = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Case {
  platform: Platform;
  /** The sandbox module that simulates it (admin customers path). */
  sandbox: string;
  /** OAuth: the query parameter that makes the sandbox's consent page approve. */
  approve?: string;
  settings?: (w: World) => Record<string, unknown>;
  credentials?: (w: World) => Record<string, unknown>;
  /** The business account a customer writes to. */
  accountId: (w: World) => string | undefined;
  /** WhatsApp Cloud has no history API: webhooks are its only source. */
  noHistory?: boolean;
}

const CASES: Case[] = [
  { platform: 'messenger', sandbox: 'meta', approve: 'sandbox_action=approve', settings: () => ({ pageId: '101000000000001' }), accountId: () => '101000000000001' },
  { platform: 'instagram', sandbox: 'meta', approve: 'sandbox_action=approve', accountId: () => '17841400000000101' },
  { platform: 'instagram_login', sandbox: 'meta', approve: 'sandbox_action=approve', accountId: (w) => w.meta.instagramLogin[0].id },
  { platform: 'tiktok', sandbox: 'tiktok', approve: 'sandbox_decision=approve', accountId: () => undefined },
  { platform: 'gmail', sandbox: 'google', approve: 'sandbox_decision=approve', accountId: () => undefined },
  {
    platform: 'whatsapp_twilio', sandbox: 'twilio', accountId: () => undefined,
    credentials: (w) => ({ accountSid: w.twilio.accountSid, authToken: w.twilio.authToken, whatsappNumber: w.twilio.senders[0].address }),
  },
  {
    platform: 'email', sandbox: 'email', accountId: () => 'support@shop.example',
    credentials: (w) => {
      const mailbox = w.email.mailboxes[0];
      const server = (s: { host: string; port: number }) => ({ host: s.host, port: s.port, secure: false, user: mailbox.login, password: mailbox.password });
      return { address: mailbox.address, imap: server(w.email.imap), smtp: server(w.email.smtp) };
    },
  },
  {
    platform: 'whatsapp_cloud', sandbox: 'whatsapp', accountId: (w) => w.whatsapp.wabas[0].phoneNumbers[0].id, noHistory: true,
    credentials: (w) => ({ accessToken: w.whatsapp.systemUserToken, phoneNumberId: w.whatsapp.wabas[0].phoneNumbers[0].id }),
  },
];

describe('every platform, connect → backfill → incremental sync', () => {
  const taskQueue = uniqueName('platforms');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key: string;
  let world: World;

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { world: { conversations: 2, messagesPerConversation: 3 } }, workerFirst: true });
    ({ sb, api, key } = stack);
    world = (await sb.admin('GET', '/world')).json;
  });
  after(() => stack?.close());

  for (const c of CASES) {
    it(c.platform, async () => {
      const { id, channel: connected } = await connectChannel(api, key, { platform: c.platform, settings: c.settings?.(world), credentials: c.credentials?.(world), approve: c.approve }, 30_000);
      const backfilled = await MessageModel.countDocuments({ channelId: id });
      if (c.noHistory) assert.equal(backfilled, 0);
      else assert.ok(backfilled > 0, `${c.platform}: backfill stored no messages`);
      assert.equal(connected.lastError, null);

      if (c.noHistory) return;
      const text = `New question on ${c.platform}`;
      const wrote = await sb.admin('POST', `/customers/${c.sandbox}/messages`, { ...(c.accountId(world) ? { accountId: c.accountId(world) } : {}), text });
      assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
      await api.call('POST', `/v1/channels/${id}/sync`, { key });
      await eventually(`${c.platform} incremental`, async () => (await MessageModel.countDocuments({ channelId: id, text: { $regex: text } })) >= 1, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await MessageModel.countDocuments({ channelId: id }), backfilled + 1, `${c.platform}: exactly the new message was added`);
    });
  }

  it('refreshes a short-lived token on its timer, keeping the rotated refresh token (TikTok)', async () => {
    // Access tokens of 70 s: the workflow must refresh about a minute before expiry, i.e. ~10 s in.
    await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: 70 });
    try {
      const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'tiktok', name: 'refreshing' } });
      const consent = await fetch(`${created.json.authorizeUrl}&sandbox_decision=approve`, { redirect: 'manual' });
      const location = new URL(consent.headers.get('location')!);
      assert.equal((await api.call('GET', `${location.pathname}${location.search}`)).status, 200);
      const id: string = created.json.channel.id;
      const first = (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel.tokenExpiresAt;
      assert.ok(first, 'expiry read from the token response');
      const refreshGrants = () => sb.sandbox.ctx.recorder.list({ platform: 'tiktok' }).filter((r) => r.body.includes('grant_type=refresh_token')).length;
      const before = refreshGrants();
      const refreshed = await eventually('token refreshed by the timer', async () => {
        const ch = (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;
        return ch.tokenExpiresAt !== first && ch;
      }, 40_000);
      assert.ok(new Date(refreshed.tokenExpiresAt) > new Date(first));
      assert.ok(refreshGrants() > before);
      // The rotated refresh token was kept: the channel still syncs and stays active.
      await api.call('POST', `/v1/channels/${id}/sync`, { key });
      await new Promise((r) => setTimeout(r, 1000));
      const after = (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;
      assert.equal(after.status, 'active', after.lastError ?? '');
      await api.call('DELETE', `/v1/channels/${id}`, { key });
    } finally {
      await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: null });
    }
  });
});
