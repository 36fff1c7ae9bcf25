// Messenger (`object: "page"`) and Instagram (`object: "instagram"`) webhook events: the
// customer's message, and after a business send its echo, delivery and read. Each is one POST
// of `entry[].messaging[]` with ms timestamps, serialized and signed exactly as Meta does.
import type { MetaEnv } from './http';
import { PLATFORM } from './http';
import { metaJson, signMetaBody, signMetaBodySha1 } from './signing';
import type { Attachment, Conversation, IgAccount, Message } from './state';

type WebhookField = 'messages' | 'message_echoes' | 'message_deliveries' | 'message_reads' | 'messaging_seen';

export const DEFAULT_PAGE_FIELDS = ['messages', 'messaging_postbacks', 'message_deliveries', 'message_reads', 'message_echoes'];
export const DEFAULT_IG_FIELDS = ['messages', 'messaging_seen', 'messaging_postbacks', 'message_reactions'];

export class MetaWebhooks {
  constructor(private readonly env: MetaEnv) {}

  /** The secret that signs an account's events: the Instagram app's for Instagram Login accounts, else the Meta app's. */
  secretFor(accountId: string): string {
    const ig = this.env.world.igAccounts.get(accountId);
    return this.env.ctx.apps.get(ig && !ig.pageId ? 'instagram' : 'meta').secret;
  }

  customerMessage(conv: Conversation, message: Message): void {
    const body: Record<string, unknown> = { mid: message.id };
    if (message.text !== undefined) body.text = message.text;
    if (message.attachments?.length) body.attachments = message.attachments.map(webhookAttachment);
    this.emit(conv, 'messages', 'message', { sender: { id: conv.customerId }, recipient: { id: conv.accountId }, timestamp: message.createdAt, message: body });
  }

  /** The echo of a business message; `app_id` tells our own sends from replies typed in Meta's apps. */
  echo(conv: Conversation, message: Message): void {
    const body: Record<string, unknown> = { mid: message.id, is_echo: true };
    if (message.appId) body.app_id = Number(message.appId);
    if (message.metadata !== undefined) body.metadata = message.metadata;
    if (message.text !== undefined) body.text = message.text;
    if (message.attachments?.length) body.attachments = message.attachments.map(webhookAttachment);
    const field = conv.channel === 'messenger' ? 'message_echoes' : 'messages';
    this.emit(conv, field, 'echo', { sender: { id: conv.accountId }, recipient: { id: conv.customerId }, timestamp: message.createdAt, message: body });
  }

  /** Messenger only: everything sent before the watermark (ms) reached the customer's device. */
  delivery(conv: Conversation, mids: string[], watermark: number): void {
    this.emit(conv, 'message_deliveries', 'delivery', { sender: { id: conv.customerId }, recipient: { id: conv.accountId }, delivery: { mids, watermark } });
  }

  /** Messenger: read up to a watermark; Instagram (`messaging_seen`): read names the message id. */
  read(conv: Conversation, message: Message, at: number): void {
    if (conv.channel === 'messenger') {
      this.emit(conv, 'message_reads', 'read', { sender: { id: conv.customerId }, recipient: { id: conv.accountId }, timestamp: at, read: { watermark: message.createdAt } });
    } else {
      this.emit(conv, 'messaging_seen', 'read', { sender: { id: conv.customerId }, recipient: { id: conv.accountId }, timestamp: at, read: { mid: message.id } });
    }
  }

  private subscribed(conv: Conversation, field: WebhookField): boolean {
    const { world } = this.env;
    const page = world.pages.get(conv.accountId);
    if (page) return page.subscribedFields.has(field);
    const ig = world.igAccounts.get(conv.accountId) as IgAccount;
    // Instagram via Facebook Login rides on the linked Page's app subscription.
    if (ig.pageId) return (world.pages.get(ig.pageId)?.subscribedFields.size ?? 0) > 0;
    return ig.subscribedFields.has(field === 'message_echoes' ? 'messages' : field);
  }

  private emit(conv: Conversation, field: WebhookField, kind: string, event: Record<string, unknown>): void {
    const { ctx } = this.env;
    const url = ctx.webhooks.target(PLATFORM);
    if (!url || !this.subscribed(conv, field)) return;
    const payload = { object: conv.channel === 'messenger' ? 'page' : 'instagram', entry: [{ id: conv.accountId, time: ctx.now(), messaging: [event] }] };
    const body = metaJson(payload);
    const secret = this.secretFor(conv.accountId);
    ctx.webhooks.send({
      platform: PLATFORM,
      kind,
      url,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'facebookexternalua',
        'x-hub-signature': signMetaBodySha1(body, secret),
        'x-hub-signature-256': signMetaBody(body, secret),
      },
      body,
    });
  }
}

function webhookAttachment(a: Attachment): Record<string, unknown> {
  return { type: a.type, payload: { url: a.url } };
}

/**
 * Simulates Meta's subscription handshake against our endpoint: GET with hub.mode=subscribe,
 * hub.verify_token and hub.challenge; verified when the endpoint answers 200 with the challenge.
 */
export async function verifySubscription(url: string, verifyToken: string, challenge: string): Promise<{ status: number; body: string; verified: boolean }> {
  const target = new URL(url);
  target.searchParams.set('hub.mode', 'subscribe');
  target.searchParams.set('hub.challenge', challenge);
  target.searchParams.set('hub.verify_token', verifyToken);
  const res = await fetch(target, { headers: { 'user-agent': 'facebookplatform/1.0 (+http://developers.facebook.com)' }, signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  return { status: res.status, body, verified: res.status === 200 && body === challenge };
}
