// Scenario `worker-kill`: the worker process is SIGKILLed mid-backfill and mid-ingest, then started
// again. First a Page with a history is connected and the worker is killed while the history is
// being paged in; then customers write and agents reply while the worker is killed once during the
// flow, and again the moment its successor starts draining the backlog that piled up meanwhile
// (replies are paced so that some are in flight at each kill).
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack, sleep, waitFor } from '../lib/stack';
import { channelView, connectPage, customersDone, customersWrite, inboundCount, newSendLog, openConversations, sendReplies, storedCount, waitBackfillDone } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'worker-kill',
  description: 'SIGKILL of the worker mid-backfill and mid-ingest (twice, the second time mid-drain), then restart',
  options: {
    'history-conversations': 'conversations in the Page\'s history (default 40)',
    'history-messages': 'messages per conversation (default 50)',
    messages: 'customer messages written live (default 2000)',
    rate: 'customer messages per second (default 100)',
    sends: 'replies (default 100)',
    'send-rate': 'the channel\'s send rate, so replies span the kills (default 8)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const hc = intOption(ctx.options, 'history-conversations', 40, 1);
  const hm = intOption(ctx.options, 'history-messages', 50, 1);
  const messages = intOption(ctx.options, 'messages', 2000, 10);
  const rate = intOption(ctx.options, 'rate', 100, 1);
  const sends = intOption(ctx.options, 'sends', 100, 1);
  const sendRate = intOption(ctx.options, 'send-rate', 8, 1);
  const history = hc * hm;

  const stack = await ChaosStack.start({ world: { conversations: hc, messagesPerConversation: hm }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });

  // --- mid-backfill ------------------------------------------------------------------------------------
  const channel = await connectPage(stack, { waitBackfill: false });
  const atBackfillKill = await waitFor('the backfill under way', async () => { const n = await storedCount(channel); return n >= history * 0.25 && n; }, 300_000, 50);
  const backfillDoneAtKill = (await channelView(stack, channel)).backfill.done as boolean;
  await stack.kill('worker', `mid-backfill: ${atBackfillKill} of ${history} history messages stored${backfillDoneAtKill ? ' — but the backfill had already finished' : ''}`);
  await sleep(2000);
  await stack.restart('worker');
  await waitBackfillDone(stack, channel, 300_000);
  const afterBackfill = await storedCount(channel);
  stack.note(`backfill done after the restart: ${afterBackfill} of ${history} stored`);

  // --- mid-ingest ---------------------------------------------------------------------------------------
  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: sendRate });
  const base = await inboundCount(channel);
  const log = newSendLog('workerkill');
  const customers = await customersWrite(stack, messages, rate);
  const replies = sendReplies(stack, log, conversations, sends, sendRate);
  const kills: { phase: string; storedLive: number }[] = [];

  const live1 = await waitFor('a quarter of the live messages stored', async () => { const n = (await inboundCount(channel)) - base; return n >= messages * 0.25 && n; }, 300_000, 50);
  await stack.kill('worker', `mid-ingest: ${live1} of ${messages} live messages stored`);
  kills.push({ phase: 'mid-ingest', storedLive: live1 });
  await sleep(3000); // the queue fills while no worker runs
  const beforeRestart = await inboundCount(channel);
  await stack.restart('worker');
  // The moment the new worker's drain stores its first batch: kill it again, mid-drain.
  const live2 = await waitFor('the drain under way', async () => { const n = await inboundCount(channel); return n > beforeRestart && n - base; }, 300_000, 20);
  await stack.kill('worker', `mid-drain of the backlog: ${live2} of ${messages} live messages stored`);
  kills.push({ phase: 'mid-drain', storedLive: live2 });
  await stack.restart('worker');

  await Promise.all([customersDone(stack, customers), replies]);
  return finish(stack, channel, [log], {
    rows: [
      ['', 'faults: worker SIGKILLed mid-backfill, mid-ingest and mid-drain'],
      ['history / killed at (stored)', `${history} / ${atBackfillKill}${backfillDoneAtKill ? ' (backfill had finished)' : ''}`],
      ['live messages / killed at (stored)', `${messages} / ${kills.map((k) => `${k.storedLive} (${k.phase})`).join(', ')}`],
      ['replies / send rate', `${sends} / ${sendRate}/s`],
    ],
    figures: { history, messages, rate, sends, sendRate, backfillKill: { stored: atBackfillKill, backfillDoneAtKill }, ingestKills: kills },
  });
}
