// Scenario `api-kill`: the API process is SIGKILLed right after it acknowledged something — twice
// in the very tick a webhook delivery's 200 reaches the platform, once the moment a reply's 202
// reaches the client — and started again. Meanwhile customers keep writing (the platform retries
// what found the API down) and agents keep replying (the client posts again with the same
// Idempotency-Key). What was acknowledged just before each kill is checked by name afterwards.
import type { Document } from 'mongodb';
import { MessageModel } from '../../../models';
import { finish, intOption, type ChaosScenario, type ScenarioContext } from '../lib/scenario';
import { waitFor } from '../lib/stack';
import { startPageStack, startTraffic } from '../lib/workload';

export const scenario: ChaosScenario = {
  name: 'api-kill',
  description: 'SIGKILL of the API right after acknowledging a webhook (twice) and a reply (once), then restart',
  options: {
    messages: 'customer messages (default 1500)',
    rate: 'customer messages per second (default 75)',
    sends: 'replies (default 100)',
    'send-rate': 'replies posted per second (default 5)',
  },
  run,
};

async function run(ctx: ScenarioContext) {
  const messages = intOption(ctx.options, 'messages', 1500, 10);
  const rate = intOption(ctx.options, 'rate', 75, 1);
  const sends = intOption(ctx.options, 'sends', 100, 1);
  const sendRate = intOption(ctx.options, 'send-rate', 5, 1);

  const { stack, channel, conversations } = await startPageStack(ctx);

  // The sandbox (in this process) delivers webhooks with the global fetch: watch its answers, and
  // kill the API in the same tick as the 200 of an armed delivery arrives.
  let armWebhook = false;
  const ackedBeforeKill: string[][] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await realFetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (armWebhook && res.status === 200 && url.startsWith(`${stack.apiUrl}/webhooks/`)) {
      armWebhook = false;
      stack.killNow('api');
      ackedBeforeKill.push([...String(init?.body ?? '').matchAll(/"mid":"([^"]+)"/g)].map((m) => m[1]!));
    }
    return res;
  };
  ctx.defer('fetch watcher', () => { globalThis.fetch = realFetch; });

  let armReply = false;
  const repliesAckedBeforeKill: number[] = [];
  const traffic = await startTraffic(stack, channel, conversations, {
    tag: 'apikill', messages, rate, sends, sendRate,
    afterAccepted: (i) => {
      if (!armReply) return;
      armReply = false;
      stack.killNow('api');
      repliesAckedBeforeKill.push(i);
    },
  });
  const { log } = traffic;

  const killAfterWebhookAck = async (share: number) => {
    await traffic.stored(share);
    armWebhook = true;
    await waitFor('a webhook acknowledged', async () => !armWebhook, 60_000, 5);
    await stack.kill('api', `the instant it acknowledged a webhook (${ackedBeforeKill.at(-1)!.length} message in it)`);
    await stack.restart('api');
  };
  await killAfterWebhookAck(0.2);
  armReply = true;
  await waitFor('a reply accepted', async () => !armReply, 120_000, 5);
  await stack.kill('api', `the instant it answered 202 to reply #${repliesAckedBeforeKill.at(-1)}`);
  await stack.restart('api');
  await killAfterWebhookAck(0.6);

  await traffic.done();
  return finish(stack, channel, [log], {
    rows: [
      ['', 'faults: API SIGKILLed the instant it acknowledged'],
      ['customer messages / replies', `${messages} at ${rate}/s / ${sends} posted at ${sendRate}/s`],
      ['kills after a webhook 200 / after a reply 202', `${ackedBeforeKill.length} / ${repliesAckedBeforeKill.length}`],
    ],
    figures: { messages, rate, sends, sendRate, ackedBeforeKill, repliesAckedBeforeKill },
    // What each killed process had acknowledged last, by name.
    check: async () => {
      const mids = ackedBeforeKill.flat();
      const storedMids = await MessageModel.collection.countDocuments({ _id: { $in: mids.map((m) => `${channel.channelId}:${m}`) } } as Document);
      const replyIds = repliesAckedBeforeKill.map((i) => log.ids[i]).filter((id): id is string => !!id);
      const replyDocs = await MessageModel.collection.find({ _id: { $in: replyIds } } as Document, { projection: { status: 1 } }).toArray();
      const repliesOut = replyDocs.filter((d) => ['sent', 'delivered', 'read'].includes(String(d.status))).length;
      const problems: string[] = [];
      if (storedMids !== mids.length) problems.push(`${mids.length - storedMids} messages acknowledged just before a kill were not stored`);
      if (repliesOut !== repliesAckedBeforeKill.length) problems.push(`${repliesAckedBeforeKill.length - repliesOut} replies accepted just before a kill were not sent`);
      return {
        rows: [
          ['acknowledged just before a kill, then stored', `${storedMids} of ${mids.length} messages`],
          ['accepted just before a kill, then sent', `${repliesOut} of ${repliesAckedBeforeKill.length} replies`],
        ],
        problems,
        figures: { storedMids, repliesOut },
      };
    },
  });
}
