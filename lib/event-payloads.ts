// What each tenant event says (lib/event-log.ts). Small and stable: an integrator fetches the full
// record (GET /v1/messages/:id, /v1/conversations/:id) when it needs more. Never a credential.
import type { NewTenantEvent } from './event-log';

interface MessageLike {
  _id: unknown; conversationId: unknown; channelId: unknown; platform: string; direction: string; status: string;
  text?: string | null; attachments?: { type: string; name?: string | null; mimeType?: string | null; mediaId?: string | null }[] | null;
  sender?: { externalId?: string | null; name?: string | null; agentId?: string | null } | null;
  platformTimestamp?: Date | null; template?: { name?: string | null } | null;
}

export function messageCreated(m: MessageLike): NewTenantEvent {
  const id = String(m._id);
  return {
    type: 'message.created',
    key: `message.created:${id}`,
    data: {
      messageId: id, conversationId: String(m.conversationId), channelId: String(m.channelId), platform: m.platform,
      direction: m.direction, status: m.status,
      ...(m.text != null ? { text: m.text } : {}),
      ...(m.template?.name ? { template: m.template.name } : {}),
      attachments: (m.attachments ?? []).map((a) => ({ type: a.type, ...(a.name ? { name: a.name } : {}), ...(a.mimeType ? { mimeType: a.mimeType } : {}), ...(a.mediaId ? { mediaId: a.mediaId } : {}) })),
      sender: { ...(m.sender?.externalId ? { externalId: m.sender.externalId } : {}), ...(m.sender?.name ? { name: m.sender.name } : {}), ...(m.sender?.agentId ? { agentId: m.sender.agentId } : {}) },
      timestamp: (m.platformTimestamp ?? new Date()).toISOString(),
    },
  };
}

export function messageStatusChanged(m: { _id: unknown; conversationId: unknown; channelId: unknown; platform: string }, status: string, at: Date, error?: { code?: string | null; message?: string | null } | null): NewTenantEvent {
  const id = String(m._id);
  return {
    type: 'message.status',
    // pending and failed can come back (a failed send retried), the others happen once.
    key: status === 'pending' || status === 'failed' ? `message.status:${id}:${status}:${at.getTime()}` : `message.status:${id}:${status}`,
    at,
    data: {
      messageId: id, conversationId: String(m.conversationId), channelId: String(m.channelId), platform: m.platform, status,
      ...(error?.code ? { error: { code: error.code, message: error.message ?? '' } } : {}),
    },
  };
}

export function channelStatusChanged(ch: { channelId: string; platform: string; status: string; reason?: string }, at = new Date()): NewTenantEvent {
  return {
    type: 'channel.status',
    key: `channel.status:${ch.channelId}:${ch.status}:${at.getTime()}`,
    at,
    data: { channelId: ch.channelId, platform: ch.platform, status: ch.status, ...(ch.reason ? { reason: ch.reason } : {}) },
  };
}
