// Scenario `platform-errors`: the platform fails a fifth of the calls with a 5xx, and some hang
// until our client gives up (the sandbox answers 504 after 25 s; our Graph client waits 20 s) —
// from the OAuth code exchange and the backfill to every send. The Page is connected under these
// faults (a user whose connect fails consents again), its backfill is given `--backfill-wait`
// seconds under them, then customers write and agents reply under them. At the end the faults are
// lifted and the user presses "sync now" (POST /v1/channels/:id/sync), so the audit also shows
// whether the channel workflow picks the backfill up again.
import { injectedFaults } from '../lib/audit';
import { finish, intOption, PAGE_WORKLOAD_OPTIONS, pageWorkload, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { ChaosStack } from '../lib/stack';
import { connectPage, customersDone, customersWrite, newSendLog, openConversations, repliesSettled, sendReplies, storedCount, waitBackfillDone } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'platform-errors',
  description: '20 % 5xx and timeouts on every platform call (connect, backfill, sends)',
  options: {
    ...PAGE_WORKLOAD_OPTIONS,
    'error-percent': 'share of platform calls answered with a 5xx (default 20)',
    'timeout-percent': 'share of platform calls left hanging (default 2)',
    'backfill-wait': 'seconds the backfill gets under the faults (default 60)',
  },
  run,
};

/** The Graph endpoints Switchboard calls (names as the sandbox's fault rules know them). */
const ENDPOINTS = ['oauth.access_token', 'debug_token', 'me.accounts', 'me.permissions', 'subscribed_apps', 'conversations', 'messages', 'node', 'send'];

async function run(ctx: ScenarioContext) {
  const { hc, hm, messages, rate, sends } = pageWorkload(ctx.options);
  const errorRate = intOption(ctx.options, 'error-percent', 20, 0) / 100;
  const timeoutRate = intOption(ctx.options, 'timeout-percent', 2, 0) / 100;
  const backfillWait = intOption(ctx.options, 'backfill-wait', 60, 1);

  const stack = await ChaosStack.start({ world: { conversations: hc, messagesPerConversation: hm }, hangMs: 25_000, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  for (const endpoint of ENDPOINTS) await stack.admin('POST', '/faults', { platform: 'meta', endpoint, errorRate, errorStatus: 503, timeoutRate });
  stack.note(`fault rules on ${ENDPOINTS.length} Graph endpoints: ${errorRate * 100} % 503, ${timeoutRate * 100} % hang`);

  const history = hc * hm;
  const t = Date.now();
  const channel = await connectPage(stack, { waitBackfill: false });
  const backfilled = await waitBackfillDone(stack, channel, backfillWait * 1000).then(() => true, () => false);
  const backfillMs = Date.now() - t;
  const storedUnderFaults = await storedCount(channel);
  stack.note(backfilled ? `connected and backfilled under faults in ${(backfillMs / 1000).toFixed(1)} s` : `backfill under faults not done after ${backfillWait} s: ${storedUnderFaults} of ${history} history messages stored`);

  const conversations = await openConversations(stack, channel, 10);
  await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: 10 });
  const log = newSendLog('platformerrors');
  const customers = await customersWrite(stack, messages, rate);
  await Promise.all([customersDone(stack, customers), sendReplies(stack, log, conversations, sends, 10)]);
  // The API answers 202 at once; the platform calls follow at the channel's pace — under the faults.
  await repliesSettled(log, 600_000);
  const faultsInjected = injectedFaults(stack);

  // Faults over: "sync now" wakes the workflow from its backoff.
  stack.sandbox.ctx.faults.clear();
  let resumedAfterFaults: boolean | null = null;
  if (!backfilled) {
    await stack.call('POST', `/v1/channels/${channel.channelId}/sync`);
    resumedAfterFaults = await waitBackfillDone(stack, channel, 300_000).then(() => true, () => false);
    stack.note(`faults lifted, "sync now": backfill ${resumedAfterFaults ? 'finished' : 'still not done'}`);
  }

  return finish(stack, channel, [log], {
    rows: [
      ['', `faults: ${errorRate * 100} % 503 and ${timeoutRate * 100} % hanging calls on every Graph endpoint`],
      ['history messages', String(history)],
      ['backfill under the faults', backfilled ? `done in ${(backfillMs / 1000).toFixed(1)} s` : `NOT done after ${backfillWait} s (${storedUnderFaults} of ${history} stored)`],
      ...(resumedAfterFaults === null ? [] : [['backfill after the faults, on "sync now"', resumedAfterFaults ? 'finished' : 'NOT finished'] as [string, string]]),
      // A 5xx during the connect drops the one-time OAuth code (activities/channel-lifecycle.ts): the user must consent again.
      ['consents the user needed to connect', String(channel.consents)],
      ['customer messages / replies', `${messages} / ${sends}`],
      ['faults injected (sandbox counters)', faultsInjected],
    ],
    figures: {
      history, messages, rate, sends, errorRate, timeoutRate, consents: channel.consents, faultCounters: stack.sandbox.ctx.recorder.snapshot(),
      backfillUnderFaults: { done: backfilled, ms: backfillMs, waitedSeconds: backfillWait, stored: storedUnderFaults }, backfillAfterFaults: resumedAfterFaults,
    },
    check: async () => ({
      rows: [],
      problems: backfilled ? [] : [`the backfill did not finish under ${errorRate * 100} % 5xx in ${backfillWait} s (${storedUnderFaults} of ${history} history messages stored)`],
    }),
  });
}
