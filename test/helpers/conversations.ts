// What happens in a conversation, for tests: a Messenger customer writes through the sandbox (whose
// signed webhook reaches the API and the worker stores the message), and a reply settles.
import { MessageModel } from '../../models';
import type { createTestApi } from './api';
import { eventually } from './env';
import type { useSandbox } from './sandbox';

type TestApi = Awaited<ReturnType<typeof createTestApi>>;
type TestSandbox = Awaited<ReturnType<typeof useSandbox>>;

/**
 * A customer writes to the Messenger page `pageId` (a new customer unless `customerId` is given);
 * waits until the channel's inbox has stored it. Returns our IDs for it and the stored message.
 */
export async function messengerCustomerWrites(sb: Pick<TestSandbox, 'admin'>, channelId: string, pageId: string, text: string, customerId?: string) {
  const w = (await sb.admin('POST', '/customers/meta/messages', { accountId: pageId, text, ...(customerId ? { customerId } : {}) })).json;
  const message = await eventually('inbound stored', () => MessageModel.findById(`${channelId}:${w.messageId}`).lean());
  return { conversationId: `${channelId}:${w.customerId}`, messageId: `${channelId}:${w.messageId}`, customerId: w.customerId as string, message };
}

/** Waits until a message is no longer pending (sent or beyond, or failed); returns its API view. */
export function messageSettled(api: TestApi, key: string, id: string, timeoutMs = 60_000) {
  return eventually(`message ${id} settled`, async () => {
    const m = (await api.call('GET', `/v1/messages/${encodeURIComponent(id)}`, { key })).json.message;
    return m.status !== 'pending' && m;
  }, timeoutMs);
}
