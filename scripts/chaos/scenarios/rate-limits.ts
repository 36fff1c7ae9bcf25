// Scenario `rate-limits`: 429 storms with Retry-After. For some seconds the platform answers every
// call with its rate-limit error (Graph code 613 and a Retry-After header) — first while the Page's
// history is being backfilled, then twice while agents reply — and a tenth of the sends in between.
// Every reply must still go out exactly once (or fail with a reason), every message be stored.
import { injectedFaults } from '../lib/audit';
import { finish, intOption, PAGE_WORKLOAD_OPTIONS, pageWorkload, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack, sleep } from '../lib/stack';
import { connectPage, customersDone, customersWrite, newSendLog, openConversations, sendReplies, waitBackfillDone } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'rate-limits',
  description: '429 storms with Retry-After during the backfill and during sends, and 10 % rate limits in between',
  options: {
    ...PAGE_WORKLOAD_OPTIONS,
    'storm-seconds': 'how long each storm lasts (default 15)',
    'retry-after': 'the storms\' Retry-After, seconds (default 5)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const { hc, hm, messages, rate, sends } = pageWorkload(ctx.options, 2);
  const stormSeconds = intOption(ctx.options, 'storm-seconds', 15, 1);
  const retryAfter = intOption(ctx.options, 'retry-after', 5, 0);

  const stack = await ChaosStack.start({ world: { conversations: hc, messagesPerConversation: hm }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  const storms: string[] = [];
  /** Every call to these endpoints refused for `stormSeconds`, then the rules are removed. */
  const storm = async (what: string, endpoints: string[]) => {
    const ids: number[] = [];
    const before = stack.sandbox.ctx.recorder.snapshot()['meta.faults.rate_limit'] ?? 0;
    for (const endpoint of endpoints) ids.push((await stack.admin('POST', '/faults', { platform: 'meta', endpoint, rateLimitRate: 1, retryAfterSeconds: retryAfter })).id as number);
    stack.note(`429 storm (${what}): every ${endpoints.join('/')} call refused for ${stormSeconds} s, Retry-After ${retryAfter} s`);
    await sleep(stormSeconds * 1000);
    for (const id of ids) await stack.admin('DELETE', `/faults/${id}`);
    const refused = (stack.sandbox.ctx.recorder.snapshot()['meta.faults.rate_limit'] ?? 0) - before;
    storms.push(`${what}: ${stormSeconds} s, ${refused} calls refused`);
    stack.note(`storm over (${what}): ${refused} calls refused`);
  };

  // --- a storm on the backfill's reads; replies start meanwhile (a backfill does not hold sends up) ------
  const t = Date.now();
  const channel = await connectPage(stack, { waitBackfill: false });
  const backfill = (async () => {
    await storm('backfill', ['conversations', 'messages']);
    await waitBackfillDone(stack, channel, 600_000);
    const ms = Date.now() - t;
    stack.note(`backfilled through the storm in ${(ms / 1000).toFixed(1)} s`);
    return ms;
  })();

  // --- storms on everything while agents reply, 10 % rate limits on sends in between ---------------------
  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: 10 });
  await stack.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', rateLimitRate: 0.1, retryAfterSeconds: 1 });
  const log = newSendLog('ratelimits');
  const customers = await customersWrite(stack, messages, rate);
  await Promise.all([storm('first half of the replies', ['send']), sendReplies(stack, log, conversations, Math.ceil(sends / 2), 10)]);
  await Promise.all([storm('second half of the replies', ['*']), sendReplies(stack, log, conversations, Math.floor(sends / 2), 10), customersDone(stack, customers)]);
  const backfillMs = await backfill;

  return finish(stack, channel, [log], {
    rows: [
      ['', `faults: 429 storms with Retry-After, 10 % rate limits on sends`],
      ...storms.map((s, i): [string, string] => [`storm ${i + 1}`, s]),
      ['history / connect + backfill took', `${hc * hm} / ${(backfillMs / 1000).toFixed(1)} s`],
      // Messenger's rate-limit answer carries X-Business-Use-Case-Usage with a regain time in whole
      // minutes; the adapter waits the longer of it and Retry-After (so ≥ 60 s per refused call).
      ['customer messages / replies', `${messages} / ${sends}`],
      ['faults injected (sandbox counters)', injectedFaults(stack)],
    ],
    figures: { history: hc * hm, messages, rate, sends, stormSeconds, retryAfter, storms, backfillMs, faultCounters: stack.sandbox.ctx.recorder.snapshot() },
  });
}
