// Scenario `db-restart`: FerretDB is stopped and started again on its SQLite directory while
// customers write and agents reply. Webhooks that find the database gone are not acknowledged
// (503) and the platform delivers them again; activities fail and Temporal retries them; sends
// posted meanwhile get a 5xx and are posted again with the same Idempotency-Key. Nothing
// acknowledged before the stop may be missing after it.
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack, sleep, waitFor } from '../lib/stack';
import { connectPage, customersDone, customersWrite, inboundCount, newSendLog, openConversations, sendReplies } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'db-restart',
  description: 'restart of the database (FerretDB, SQLite directory kept) mid-run',
  options: {
    messages: 'customer messages (default 1500)',
    rate: 'customer messages per second (default 75)',
    sends: 'replies (default 100)',
    'send-rate': 'the channel\'s send rate, so replies span the restart (default 5)',
    'down-seconds': 'how long the database stays down (default 5)',
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
  const log = newSendLog('dbrestart');
  const base = await inboundCount(channel);
  const customers = await customersWrite(stack, messages, rate);
  const replies = sendReplies(stack, log, conversations, sends, sendRate);

  const atRestart = await waitFor('30 % of the messages stored', async () => { const n = (await inboundCount(channel)) - base; return n >= messages * 0.3 && n; }, 300_000, 50);
  const t = Date.now();
  await stack.restartDatabase(downSeconds * 1000);
  const downMs = Date.now() - t;
  // The API and worker reconnect by themselves, or exit; a supervisor would start them again (reported).
  await sleep(2000);
  await stack.superviseOnce();

  await Promise.all([customersDone(stack, customers), replies]);
  return finish(stack, channel, [log], {
    rows: [
      ['', `faults: FerretDB stopped and restarted on its files (down ${(downMs / 1000).toFixed(1)} s)`],
      ['customer messages / replies', `${messages} at ${rate}/s / ${sends} at ${sendRate}/s`],
      ['restarted when stored (live)', `${atRestart} of ${messages}`],
    ],
    figures: { messages, rate, sends, sendRate, storedAtRestart: atRestart, downMs },
  });
}
