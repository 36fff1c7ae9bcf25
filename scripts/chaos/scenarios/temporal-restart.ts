// Scenario `temporal-restart`: the Temporal dev server is stopped and started again on its SQLite
// file while customers write and agents reply. Webhooks keep being acknowledged (the queue is in
// MongoDB); the wake-up signals sent while it is down fail and the next delivery wakes the channel
// again; sends posted meanwhile get a 5xx and are posted again; the worker reconnects (or, if it
// gave up, a supervisor starts it again and the exit is reported). Every workflow must carry on
// from where the database file left it.
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack, sleep, waitFor } from '../lib/stack';
import { connectPage, customersDone, customersWrite, inboundCount, newSendLog, openConversations, sendReplies } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'temporal-restart',
  description: 'restart of the Temporal dev server (persistent SQLite file) mid-run',
  options: {
    messages: 'customer messages (default 1500)',
    rate: 'customer messages per second (default 75)',
    sends: 'replies (default 100)',
    'send-rate': 'the channel\'s send rate, so replies span the restart (default 5)',
    'down-seconds': 'how long the server stays down (default 5)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const messages = intOption(ctx.options, 'messages', 1500, 10);
  const rate = intOption(ctx.options, 'rate', 75, 1);
  const sends = intOption(ctx.options, 'sends', 100, 1);
  const sendRate = intOption(ctx.options, 'send-rate', 5, 1);
  const downSeconds = intOption(ctx.options, 'down-seconds', 5, 0);

  const stack = await ChaosStack.start({ world: { conversations: 5, messagesPerConversation: 20 }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  const channel = await connectPage(stack);
  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: sendRate });
  const log = newSendLog('temporalrestart');
  const base = await inboundCount(channel);
  const customers = await customersWrite(stack, messages, rate);
  const replies = sendReplies(stack, log, conversations, sends, sendRate);

  const atRestart = await waitFor('30 % of the messages stored', async () => { const n = (await inboundCount(channel)) - base; return n >= messages * 0.3 && n; }, 300_000, 50);
  const t = Date.now();
  await stack.restartTemporal(downSeconds * 1000);
  const downMs = Date.now() - t;
  // The worker reconnects by itself, or exits; a supervisor would start it again (reported).
  await sleep(2000);
  await stack.superviseOnce();

  await Promise.all([customersDone(stack, customers), replies]);
  return finish(stack, channel, [log], {
    rows: [
      ['', `faults: Temporal dev server stopped and restarted from its file (down ${(downMs / 1000).toFixed(1)} s)`],
      ['customer messages / replies', `${messages} at ${rate}/s / ${sends} at ${sendRate}/s`],
      ['restarted when stored (live)', `${atRestart} of ${messages}`],
    ],
    figures: { messages, rate, sends, sendRate, storedAtRestart: atRestart, downMs },
  });
}
