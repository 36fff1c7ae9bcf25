// Scenario `token-revocation`: the Page's tokens are revoked on the platform (Graph error 190, as
// when a user removes the app or changes their password) while customers write and agents reply;
// then the access is restored and the user reconnects the channel (POST /v1/channels/:id/reconnect,
// consent, callback), and the replies that failed meanwhile are retried (POST /v1/messages/:id/retry).
// Replies posted while revoked must fail with a reason (reauth_required) without a platform send,
// customers' messages keep arriving by webhook throughout, and after the reconnect every retried
// reply goes out exactly once.
import type { Document } from 'mongodb';
import { MessageModel } from '../../../models';
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack, waitFor } from '../lib/stack';
import { channelView, connectPage, consent, customersDone, customersWrite, newSendLog, openConversations, PAGE, sendReplies } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'token-revocation',
  description: 'token revocation mid-run (replies fail with a reason), restoration and reconnect, failed replies retried',
  options: {
    messages: 'customer messages (default 1000)',
    rate: 'customer messages per second (default 40)',
    sends: 'replies before, during and after the revocation (default 100; a third each)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const messages = intOption(ctx.options, 'messages', 1000, 1);
  const rate = intOption(ctx.options, 'rate', 40, 1);
  const sends = intOption(ctx.options, 'sends', 100, 3);
  const third = Math.floor(sends / 3);

  const stack = await ChaosStack.start({ world: { conversations: 5, messagesPerConversation: 20 }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  const channel = await connectPage(stack);
  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: 10 });
  const log = newSendLog('revocation');
  const customers = await customersWrite(stack, messages, rate);

  // --- before -------------------------------------------------------------------------------------------
  await sendReplies(stack, log, conversations, third, 10);
  await waitFor('the first replies sent', async () => (await MessageModel.collection.countDocuments({ _id: { $in: log.ids.filter(Boolean) }, status: 'pending' } as Document)) === 0, 120_000);

  // --- revoked --------------------------------------------------------------------------------------------
  const revoked = (await stack.admin('POST', '/tokens/revoke', { platform: 'meta', subject: PAGE, reason: 'Error validating access token: The user has not authorized application.', code: 190, subcode: 458 })).revoked as number;
  stack.note(`revoked ${revoked} tokens of the Page`);
  const duringFrom = log.requested;
  await sendReplies(stack, log, conversations, third, 10);
  const duringIds = log.ids.slice(duringFrom).filter((id): id is string => !!id);
  await waitFor('the replies posted while revoked to settle', async () => (await MessageModel.collection.countDocuments({ _id: { $in: duringIds }, status: 'pending' } as Document)) === 0, 180_000);
  const failedWhileRevoked = await MessageModel.collection.find({ _id: { $in: duringIds }, status: 'failed' } as Document, { projection: { error: 1 } }).toArray();
  const reasons: Record<string, number> = {};
  for (const m of failedWhileRevoked) reasons[String(m.error?.code ?? 'none')] = (reasons[String(m.error?.code ?? 'none')] ?? 0) + 1;
  const statusWhileRevoked = (await channelView(stack, channel)).status as string;
  stack.note(`while revoked: ${failedWhileRevoked.length} of ${duringIds.length} replies failed (${JSON.stringify(reasons)}); channel ${statusWhileRevoked}`);

  // --- restored, reconnected, failed replies retried --------------------------------------------------------
  const restored = (await stack.admin('POST', '/tokens/restore', { platform: 'meta', subject: PAGE })).restored as number;
  const reconnect = await stack.call('POST', `/v1/channels/${channel.channelId}/reconnect`, {});
  if (reconnect.status !== 200) throw new Error(`POST /reconnect answered ${reconnect.status}: ${reconnect.text}`);
  await consent(stack, reconnect.json.authorizeUrl);
  await waitFor('the channel active again', async () => (await channelView(stack, channel)).status === 'active', 120_000);
  stack.note(`restored ${restored} tokens; the user reconnected the channel: active again`);
  let retried = 0;
  for (const m of failedWhileRevoked) {
    const res = await stack.call('POST', `/v1/messages/${encodeURIComponent(String(m._id))}/retry`);
    if (res.status === 202) retried++;
  }
  stack.note(`${retried} failed replies retried`);

  // --- after ------------------------------------------------------------------------------------------------
  await Promise.all([customersDone(stack, customers), sendReplies(stack, log, conversations, sends - 2 * third, 10)]);
  return finish(stack, channel, [log], {
    rows: [
      ['', 'faults: the Page\'s tokens revoked (Graph 190), then restored and the channel reconnected'],
      ['customer messages / replies', `${messages} at ${rate}/s / ${sends} (${third} before, ${third} while revoked, ${sends - 2 * third} after)`],
      ['tokens revoked / restored', `${revoked} / ${restored}`],
      ['replies posted while revoked: failed, by reason', `${failedWhileRevoked.length} of ${duringIds.length} (${Object.entries(reasons).map(([k, v]) => `${k} ${v}`).join(', ')})`],
      ['channel while revoked', statusWhileRevoked],
      ['failed replies retried after the reconnect', String(retried)],
    ],
    figures: { messages, rate, sends, revoked, restored, whileRevoked: { posted: duringIds.length, failed: failedWhileRevoked.length, reasons, channelStatus: statusWhileRevoked }, retried },
    check: async () => {
      const problems: string[] = [];
      if (statusWhileRevoked !== 'reauth_required') problems.push(`the channel was ${statusWhileRevoked} while its tokens were revoked (expected reauth_required)`);
      if (failedWhileRevoked.length !== duringIds.length) problems.push(`${duringIds.length - failedWhileRevoked.length} replies posted while revoked did not fail`);
      return { rows: [], problems };
    },
  });
}
