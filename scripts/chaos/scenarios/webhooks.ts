// Scenario `webhooks`: the platform delivers every webhook three times, out of order, and in bursts.
// Customers write to a connected Messenger Page while agents reply; the sandbox sends each delivery
// (customer messages, and the echo, delivery and read of every reply) as three copies, shuffled in
// windows of 25; then it holds deliveries back and releases them all at once, twice.
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack } from '../lib/stack';
import { connectPage, customersDone, customersWrite, newSendLog, openConversations, sendReplies } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'webhooks',
  description: 'webhook deliveries duplicated ×3, reordered and in bursts while customers write and agents reply',
  options: {
    messages: 'customer messages (default 3000; half steady, half in two bursts)',
    rate: 'customer messages per second in the steady half (default 100)',
    sends: 'replies (default 100)',
    copies: 'copies of each delivery (default 3)',
    'reorder-window': 'deliveries shuffled together (default 25)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const messages = intOption(ctx.options, 'messages', 3000, 2);
  const rate = intOption(ctx.options, 'rate', 100, 1);
  const sends = intOption(ctx.options, 'sends', 100, 2);
  const copies = intOption(ctx.options, 'copies', 3, 1);
  const window = intOption(ctx.options, 'reorder-window', 25, 0);

  const stack = await ChaosStack.start({ world: { conversations: 5, messagesPerConversation: 20 }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  const channel = await connectPage(stack);
  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: 10 });
  const log = newSendLog('webhooks');

  // --- steady: three copies of everything, shuffled ---------------------------------------------------
  await stack.admin('PUT', '/webhooks/options/meta', { duplicate: copies - 1, reorderWindow: window });
  stack.note(`deliveries ×${copies}, shuffled in windows of ${window}: ${Math.ceil(messages / 2)} customer messages at ${rate}/s, ${Math.ceil(sends / 2)} replies`);
  const steady = await customersWrite(stack, Math.ceil(messages / 2), rate);
  await Promise.all([customersDone(stack, steady), sendReplies(stack, log, conversations, Math.ceil(sends / 2), 10)]);

  // --- bursts: held back, then released at once (still ×3) ----------------------------------------------
  const bursts: number[] = [];
  const rest = messages - Math.ceil(messages / 2);
  const restSends = sends - Math.ceil(sends / 2);
  for (let b = 0; b < 2; b++) {
    await stack.admin('PUT', '/webhooks/options/meta', { hold: true });
    const n = b === 0 ? Math.ceil(rest / 2) : Math.floor(rest / 2);
    const run = await customersWrite(stack, n, 1000);
    await Promise.all([customersDone(stack, run), sendReplies(stack, log, conversations, b === 0 ? Math.ceil(restSends / 2) : Math.floor(restSends / 2), 20)]);
    // The replies' echoes come back only once the platform took them: let the held queue fill up.
    await new Promise((r) => setTimeout(r, 3000));
    // Stop holding first, then release: a delivery made between the two would stay held forever.
    await stack.admin('PUT', '/webhooks/options/meta', { hold: false });
    const released = (await stack.admin('POST', '/webhooks/flush')).released as number;
    bursts.push(released);
    stack.note(`burst ${b + 1}: ${released} held deliveries released at once`);
  }
  await stack.admin('PUT', '/webhooks/options/meta', { duplicate: 0, reorderWindow: 0, hold: false });

  return finish(stack, channel, [log], {
    rows: [
      ['', `faults: every webhook ×${copies}, reordered (window ${window}), bursts`],
      ['customer messages / replies', `${messages} / ${sends}`],
      ['bursts (deliveries released at once)', bursts.join(', ')],
    ],
    figures: { messages, rate, sends, copies, reorderWindow: window, bursts },
  });
}
