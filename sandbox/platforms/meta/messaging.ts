// Messenger and Instagram messaging on the Graph: the Conversations API (conversation lists
// with cursor paging, a conversation's messages newest first, single messages, the Instagram
// 20-most-recent horizon), user profiles, and the Send API with its windows, tags and limits.
import type { Context } from 'hono';
import type { IssuedToken } from '../../core/tokens';
import { accountsOf, actorFor, assertCanRead, requireMessagingScope, type Actor } from './access';
import { Errors, GraphError } from './errors';
import { graphTime, paginate, pagingBlock, parseLimit, requestLink, selectFields, withId, type FieldNode } from './fields';
import { objectParam, stringParam, type GraphPath, type MetaEnv } from './http';
import type { Attachment, Channel, Conversation, Customer, Message } from './state';
import type { MetaWebhooks } from './webhooks';

const CONVERSATION_FIELDS = ['id', 'updated_time', 'participants', 'message_count', 'unread_count', 'snippet', 'can_reply', 'messages', 'link'];
const MESSAGE_FIELDS = ['id', 'created_time', 'from', 'to', 'message', 'attachments', 'is_unsupported', 'tags'];
/** Instagram exposes only the newest 20 messages of a thread; older ones read as deleted. */
export const IG_MESSAGE_HORIZON = 20;
export const WINDOW_MS = 24 * 3600_000;
export const HUMAN_AGENT_WINDOW_MS = 7 * 24 * 3600_000;
const MESSENGER_TAGS = ['HUMAN_AGENT', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'ACCOUNT_UPDATE'];
const ATTACHMENT_TYPES = ['image', 'audio', 'video', 'file', 'template'] as const;

const fieldsSpec = (nodes: FieldNode[]): string => nodes.map((n) => `${n.name}${n.limit !== undefined ? `.limit(${n.limit})` : ''}${n.children ? `{${fieldsSpec(n.children)}}` : ''}`).join(',');

export function messagingApi(env: MetaEnv, webhooks: MetaWebhooks) {
  const { ctx, world } = env;

  // --- rendering ------------------------------------------------------------------------
  function participant(accountOrCustomerId: string, channel: Channel): Record<string, unknown> {
    const customer = world.customers.get(accountOrCustomerId);
    const { name, username } = customer ?? world.accountName(accountOrCustomerId);
    // Instagram shows usernames; Messenger shows names and a pseudo e-mail.
    return channel === 'instagram' ? { username, id: accountOrCustomerId } : { name, email: `${accountOrCustomerId}@facebook.com`, id: accountOrCustomerId };
  }

  function attachmentNode(a: Attachment): Record<string, unknown> {
    const base = { id: a.id, mime_type: a.mimeType, name: a.name, size: a.size };
    if (a.type === 'image') return { ...base, image_data: { width: 720, height: 960, max_width: 720, max_height: 960, url: a.url, preview_url: a.url } };
    if (a.type === 'video') return { ...base, video_data: { width: 720, height: 1280, length: 12, video_type: 0, url: a.url, preview_url: a.url } };
    return { ...base, file_url: a.url };
  }

  function messageNode(conv: Conversation, m: Message, fields: FieldNode[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const from = m.fromBusiness ? conv.accountId : conv.customerId;
    const to = m.fromBusiness ? conv.customerId : conv.accountId;
    for (const f of fields) {
      switch (f.name) {
        case 'id': out.id = m.id; break;
        case 'created_time': out.created_time = graphTime(m.createdAt); break;
        case 'from': out.from = participant(from, conv.channel); break;
        case 'to': out.to = { data: [participant(to, conv.channel)] }; break;
        case 'message': out.message = m.text ?? ''; break;
        case 'attachments': if (m.attachments?.length) out.attachments = { data: m.attachments.map(attachmentNode) }; break;
        case 'is_unsupported': out.is_unsupported = false; break;
        case 'tags': out.tags = { data: [{ name: m.fromBusiness ? 'source:chat' : 'inbox' }] }; break;
      }
    }
    return withId(out, m.id);
  }

  /** Newest first; Instagram stops at the 20-message horizon. */
  function visibleMessages(conv: Conversation): Message[] {
    const newestFirst = conv.messages.slice(conv.channel === 'instagram' ? -IG_MESSAGE_HORIZON : 0).reverse();
    return newestFirst;
  }

  function messagesEdge(c: Context, p: GraphPath, conv: Conversation, fields: FieldNode[], page: { limit: number; after?: string; before?: string }, link: { path: string; query: URLSearchParams }) {
    const slice = paginate(visibleMessages(conv), (m) => m.id, page);
    const paging = pagingBlock(slice, (m) => m.id, { base: ctx.publicUrl(), ...link });
    return { data: slice.items.map((m) => messageNode(conv, m, fields)), ...(paging ? { paging } : {}) };
  }

  function conversationNode(c: Context, p: GraphPath, conv: Conversation, fields: FieldNode[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      switch (f.name) {
        case 'id': out.id = conv.id; break;
        case 'updated_time': out.updated_time = graphTime(conv.updatedAt); break;
        case 'participants': out.participants = { data: [participant(conv.customerId, conv.channel), participant(conv.accountId, conv.channel)] }; break;
        case 'message_count': out.message_count = conv.messages.length; break;
        case 'unread_count': out.unread_count = conv.unread; break;
        case 'snippet': out.snippet = conv.messages.at(-1)?.text ?? ''; break;
        case 'can_reply': out.can_reply = conv.lastInboundAt !== null && ctx.now() - conv.lastInboundAt <= WINDOW_MS; break;
        case 'link': if (conv.channel === 'messenger') out.link = `/${conv.accountId}/inbox/${conv.id}/`; break;
        case 'messages': {
          const children = f.children ?? [{ name: 'id' }, { name: 'created_time' }];
          for (const ch of children) if (!MESSAGE_FIELDS.includes(ch.name)) throw Errors.nonexistingField(ch.name, 'Message');
          const limit = parseLimit(f.limit);
          const query = new URLSearchParams();
          const token = c.req.query('access_token');
          if (token) query.set('access_token', token);
          query.set('fields', fieldsSpec(children));
          query.set('limit', String(limit));
          out.messages = messagesEdge(c, p, conv, children, { limit }, { path: `/${p.host}/${p.version ?? 'v25.0'}/${conv.id}/messages`, query });
          break;
        }
      }
    }
    return withId(out, conv.id);
  }

  // --- send -----------------------------------------------------------------------------
  function findRecipient(actor: Actor, recipient: Record<string, unknown>): { customer: Customer; channel: Channel } {
    const id = recipient.id;
    if (id === undefined) {
      if (recipient.user_ref || recipient.phone_number || recipient.comment_id || recipient.post_id) throw Errors.param('The sandbox supports recipient.id only');
      throw Errors.param('The parameter recipient is required');
    }
    const customer = world.customers.get(String(id));
    const reachable = accountsOf(env, actor.token);
    // Through a Page token, /{page-id}/messages also reaches the linked Instagram account's users.
    const accounts = actor.channel === 'messenger' ? reachable : [actor.accountId];
    if (!customer || !accounts.includes(customer.accountId)) {
      throw actor.channel === 'instagram' || customer?.channel === 'instagram'
        ? new GraphError(100, '(#100) No matching user found', { subcode: 2534014 })
        : new GraphError(100, '(#100) No matching user found', { subcode: 2018001 });
    }
    return { customer, channel: customer.channel };
  }

  function windowError(channel: Channel): GraphError {
    return channel === 'messenger'
      ? new GraphError(10, '(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview', { subcode: 2018278, userTitle: 'Message Not Sent', userMsg: 'This person isn\'t available right now.' })
      : new GraphError(10, '(#10) This message is sent outside of allowed window.', { subcode: 2534022, userTitle: 'Message Not Sent', userMsg: 'This message is sent outside of allowed window.' });
  }

  /** Standard window: 24 h after the customer's last message; HUMAN_AGENT: 7 days; other Messenger tags: any time. */
  function checkWindow(conv: Conversation | undefined, channel: Channel, messagingType: string, tag: string | undefined): void {
    const since = conv?.lastInboundAt == null ? Infinity : ctx.now() - conv.lastInboundAt;
    if (messagingType === 'MESSAGE_TAG') {
      if (tag === 'HUMAN_AGENT') { if (since > HUMAN_AGENT_WINDOW_MS) throw windowError(channel); return; }
      return;
    }
    if (since > WINDOW_MS) throw windowError(channel);
  }

  function outboundAttachment(raw: Record<string, unknown>, channel: Channel): { attachment: Attachment; reusable: boolean } {
    const type = String(raw.type ?? '').toLowerCase();
    if (!(ATTACHMENT_TYPES as readonly string[]).includes(type)) throw Errors.param(`Param message[attachment][type] must be one of {${ATTACHMENT_TYPES.map((t) => t.toUpperCase()).join(', ')}} - got "${String(raw.type ?? '')}"`);
    if (channel === 'instagram' && type === 'template') throw Errors.param('Templates are not supported on Instagram');
    const payload = (raw.payload && typeof raw.payload === 'object' ? raw.payload : {}) as Record<string, unknown>;
    const id = world.numericId('19');
    if (type === 'template') {
      if (!payload.template_type) throw Errors.param('Param message[attachment][payload][template_type] is required');
      return { attachment: { id, type: 'template', url: '', mimeType: 'application/json', name: String(payload.template_type), size: 0 }, reusable: false };
    }
    if (payload.attachment_id !== undefined) {
      const stored = world.reusableAttachments.get(String(payload.attachment_id));
      if (!stored) throw Errors.param('Invalid attachment_id', 2018047);
      return { attachment: { id, ...stored }, reusable: false };
    }
    const url = typeof payload.url === 'string' ? payload.url : '';
    if (!/^https?:\/\/\S+$/i.test(url)) throw Errors.param('Param message[attachment][payload][url] must be a valid URL');
    const name = decodeURIComponent(url.split('?')[0]!.split('/').pop() || `${type}`);
    const mimeType = mimeFor(type, name);
    return { attachment: { id, type: type as Attachment['type'], url, mimeType, name, size: 1024 }, reusable: payload.is_reusable === true || payload.is_reusable === 'true' };
  }

  return {
    /** `GET /{page-id|ig-id|me}/conversations?platform=&fields=&limit=&after=&user_id=` */
    conversations(c: Context, p: GraphPath, token: IssuedToken): Record<string, unknown> {
      const actor = actorFor(env, p, token, p.segs[0]!, 'GET');
      const platform = (c.req.query('platform') ?? (actor.channel === 'instagram' ? 'instagram' : 'messenger')).toLowerCase();
      if (platform !== 'messenger' && platform !== 'instagram') throw Errors.param(`Param platform must be one of {MESSENGER, INSTAGRAM} - got "${c.req.query('platform')}"`);
      let accountId: string | undefined = actor.accountId;
      if (platform === 'instagram' && world.pages.has(actor.accountId)) accountId = world.pages.get(actor.accountId)!.igAccountId;
      if (platform === 'messenger' && !world.pages.has(actor.accountId)) throw Errors.param('Param platform must be instagram for an Instagram account');
      requireMessagingScope(token, platform);
      env.usage.businessHeader(c, accountId ?? actor.accountId, platform === 'instagram' ? 'instagram' : 'pages');
      const fields = selectFields(c.req.query('fields'), CONVERSATION_FIELDS, ['id', 'updated_time'], 'Conversation');
      const folder = c.req.query('folder');
      let list = accountId && (!folder || folder === 'inbox') ? world.conversationsOf(accountId) : [];
      const userId = c.req.query('user_id');
      if (userId !== undefined) list = list.filter((conv) => conv.customerId === userId);
      const slice = paginate(list, (conv) => conv.id, { limit: parseLimit(c.req.query('limit')), after: c.req.query('after'), before: c.req.query('before') });
      const paging = pagingBlock(slice, (conv) => conv.id, requestLink(c, ctx.publicUrl()));
      return { data: slice.items.map((conv) => conversationNode(c, p, conv, fields)), ...(paging ? { paging } : {}) };
    },

    conversationNode(c: Context, p: GraphPath, conv: Conversation, token: IssuedToken): Record<string, unknown> {
      assertCanRead(env, token, conv, 'GET', conv.id);
      requireMessagingScope(token, conv.channel);
      env.usage.businessHeader(c, conv.accountId, conv.channel === 'instagram' ? 'instagram' : 'pages');
      return conversationNode(c, p, conv, selectFields(c.req.query('fields'), CONVERSATION_FIELDS, ['id', 'updated_time'], 'Conversation'));
    },

    /** `GET /{conversation-id}/messages?fields=&limit=&after=` (newest first). */
    conversationMessages(c: Context, p: GraphPath, conv: Conversation, token: IssuedToken): Record<string, unknown> {
      assertCanRead(env, token, conv, 'GET', conv.id);
      requireMessagingScope(token, conv.channel);
      env.usage.businessHeader(c, conv.accountId, conv.channel === 'instagram' ? 'instagram' : 'pages');
      const fields = selectFields(c.req.query('fields'), MESSAGE_FIELDS, ['id', 'created_time'], 'Message');
      const link = requestLink(c, ctx.publicUrl());
      return messagesEdge(c, p, conv, fields, { limit: parseLimit(c.req.query('limit')), after: c.req.query('after'), before: c.req.query('before') }, link);
    },

    /** `GET /{message-id}`; Instagram messages beyond the 20 newest answer as deleted. */
    messageNode(c: Context, message: Message, token: IssuedToken): Record<string, unknown> {
      const conv = world.conversations.get(message.conversationId)!;
      assertCanRead(env, token, conv, 'GET', message.id);
      requireMessagingScope(token, conv.channel);
      if (conv.channel === 'instagram' && conv.messages.length - conv.messages.indexOf(message) > IG_MESSAGE_HORIZON) {
        throw new GraphError(100, '(#100) This message has been deleted and is no longer available.', { subcode: 2534001 });
      }
      return messageNode(conv, message, selectFields(c.req.query('fields'), MESSAGE_FIELDS, ['id', 'created_time'], 'Message'));
    },

    /** User Profile API: `GET /{PSID|IGSID}?fields=` with the Page/IG token of that account. */
    profile(c: Context, customer: Customer, token: IssuedToken): Record<string, unknown> {
      if (!accountsOf(env, token).includes(customer.accountId)) throw Errors.unsupported('GET', customer.id);
      const [first, last] = customer.name.split(' ');
      const pic = `${ctx.publicUrl()}/graph.facebook.com/__sandbox/media/profile-${customer.id}.png`;
      const values: Record<string, unknown> = customer.channel === 'messenger'
        ? { id: customer.id, name: customer.name, first_name: first, last_name: last ?? '', profile_pic: pic }
        : { id: customer.id, name: customer.name, username: customer.username, profile_pic: pic, follower_count: 12, is_user_follow_business: true, is_business_follow_user: false, is_verified_user: false };
      const fields = selectFields(c.req.query('fields'), Object.keys(values), customer.channel === 'messenger' ? ['first_name', 'last_name', 'profile_pic', 'id'] : ['name', 'username', 'profile_pic', 'id'], 'User');
      return withId(Object.fromEntries(fields.map((f) => [f.name, values[f.name]])), customer.id);
    },

    /** `POST /{page-id|ig-id|me}/message_attachments`: upload once, send by attachment_id. */
    uploadAttachment(p: GraphPath, token: IssuedToken, params: Record<string, unknown>): Record<string, unknown> {
      const actor = actorFor(env, p, token, p.segs[0]!, 'POST');
      const message = objectParam(params, 'message');
      const raw = message?.attachment;
      if (!raw || typeof raw !== 'object') throw Errors.param('Param message[attachment] is required');
      const { attachment } = outboundAttachment(raw as Record<string, unknown>, actor.channel);
      const { id, ...stored } = attachment;
      world.reusableAttachments.set(id, stored);
      return { attachment_id: id };
    },

    /** Send API: `POST /{page-id|ig-id|me}/messages`. */
    send(c: Context, p: GraphPath, token: IssuedToken, params: Record<string, unknown>): Record<string, unknown> {
      const actor = actorFor(env, p, token, p.segs[0]!, 'POST');
      const recipient = objectParam(params, 'recipient');
      if (!recipient) throw Errors.param('The parameter recipient is required');
      const { customer, channel } = findRecipient(actor, recipient);
      env.usage.businessHeader(c, customer.accountId, channel === 'messenger' ? 'messenger' : 'instagram');
      requireMessagingScope(token, channel, channel === 'messenger' ? 230 : 10);
      const conv = world.conversationWith(customer.accountId, customer.id);
      const senderAction = stringParam(params, 'sender_action');
      const message = objectParam(params, 'message');
      if (senderAction && message) throw Errors.param('Only one of message or sender_action can be specified');
      if (!senderAction && !message) throw Errors.param('Must send either message or sender_action');

      const messagingType = (stringParam(params, 'messaging_type') ?? 'RESPONSE').toUpperCase();
      if (!['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(messagingType)) throw Errors.param(`Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} - got "${stringParam(params, 'messaging_type')}"`);
      const tag = stringParam(params, 'tag')?.toUpperCase();
      if (messagingType === 'MESSAGE_TAG') {
        if (!tag) throw Errors.param('Param tag is required when messaging_type is MESSAGE_TAG');
        const allowed = channel === 'instagram' ? ['HUMAN_AGENT'] : MESSENGER_TAGS;
        if (!allowed.includes(tag)) throw Errors.param(`Param tag must be one of {${allowed.join(', ')}} - got "${tag}"`);
      }

      if (senderAction) {
        if (!['typing_on', 'typing_off', 'mark_seen'].includes(senderAction)) throw Errors.param(`Param sender_action must be one of {typing_on, typing_off, mark_seen} - got "${senderAction}"`);
        checkWindow(conv, channel, 'RESPONSE', undefined);
        if (senderAction === 'mark_seen' && conv) conv.unread = 0;
        return { recipient_id: customer.id };
      }

      const msg = message!;
      const text = msg.text;
      if (text !== undefined && typeof text !== 'string') throw Errors.param('Param message[text] must be a string');
      if (text !== undefined && msg.attachment !== undefined) throw Errors.param('Only one of text or attachment can be specified');
      if (text === undefined && msg.attachment === undefined) throw Errors.param('Param message must contain text or attachment');
      if (text !== undefined) {
        if (!text.length) throw Errors.param('Param message[text] must be non-empty');
        // Messenger counts characters (2000); Instagram counts UTF-8 bytes (1000).
        if (channel === 'messenger' && [...text].length > 2000) throw Errors.param('Length of param message[text] must be less than or equal to 2000');
        if (channel === 'instagram' && Buffer.byteLength(text, 'utf8') > 1000) throw Errors.param('Length of param message[text] must be less than or equal to 1000');
      }
      const metadata = msg.metadata;
      if (metadata !== undefined && (typeof metadata !== 'string' || metadata.length > 1000)) throw Errors.param('Length of param message[metadata] must be less than or equal to 1000');
      let attachment: { attachment: Attachment; reusable: boolean } | undefined;
      if (msg.attachment !== undefined) {
        if (!msg.attachment || typeof msg.attachment !== 'object') throw Errors.param('Param message[attachment] must be an object');
        attachment = outboundAttachment(msg.attachment as Record<string, unknown>, channel);
      }
      checkWindow(conv, channel, messagingType, tag);

      const thread = conv ?? world.conversation(customer.accountId, channel, customer.id);
      const appId = ctx.apps.get(token.kind.startsWith('ig_') ? 'instagram' : 'meta').id;
      const sent = world.addMessage(thread, {
        createdAt: ctx.now(), fromBusiness: true, appId,
        ...(text !== undefined ? { text } : {}),
        ...(attachment ? { attachments: [attachment.attachment] } : {}),
        ...(typeof metadata === 'string' ? { metadata } : {}),
      });
      let attachmentId: string | undefined;
      if (attachment?.reusable) {
        const { id, ...stored } = attachment.attachment;
        attachmentId = id;
        world.reusableAttachments.set(id, stored);
      }
      // What the platform does next: echo to the app, then the customer's device gets and reads it.
      webhooks.echo(thread, sent);
      if (channel === 'messenger') webhooks.delivery(thread, [sent.id], sent.createdAt);
      webhooks.read(thread, sent, ctx.now());
      return { recipient_id: customer.id, message_id: sent.id, ...(attachmentId ? { attachment_id: attachmentId } : {}) };
    },
  };
}

function mimeFor(type: string, name: string): string {
  const ext = name.split('.').pop()?.toLowerCase();
  const known: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', mp4: 'video/mp4', mp3: 'audio/mpeg', m4a: 'audio/mp4', ogg: 'audio/ogg', pdf: 'application/pdf' };
  if (ext && known[ext]) return known[ext]!;
  return { image: 'image/jpeg', video: 'video/mp4', audio: 'audio/mpeg', file: 'application/octet-stream' }[type] ?? 'application/octet-stream';
}
