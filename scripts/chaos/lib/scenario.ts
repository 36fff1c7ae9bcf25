// What a chaos scenario is: one file under scripts/chaos/scenarios/ exporting `scenario`. It starts
// its stack, runs a workload, injects its faults while the workload runs, waits for the stack to
// settle and audits it (lib/audit.ts). main.ts prints the table, writes the JSON, and fails the run
// when any scenario lost or duplicated anything or left something unfinished.
import { audit, auditRows, verdict, type Audit } from './audit';
import { settle } from './settle';
import { intOption } from '../../bench/lib/scenario';
import { sleep, type ChaosStack, type Defer, type Say } from './stack';
import { startPageStack, startTraffic, type Channel, type SendLog } from './workload';

export type Options = Record<string, string | true>;

export interface ScenarioContext {
  options: Options;
  say: Say;
  defer: Defer;
  /** The children's logs for this scenario (bench-results/chaos-<name>-<timestamp>.log). */
  logFile: string;
}

export interface ChaosResult {
  rows: [string, string][];
  figures: Record<string, unknown>;
  /** Expectations not met (empty: the scenario passed). */
  problems: string[];
}

export interface ChaosScenario {
  name: string;
  description: string;
  /** Options it reads, for the usage text. */
  options: Record<string, string>;
  run(ctx: ScenarioContext): Promise<ChaosResult>;
}

// Options read the same way as the bench's.
export { intOption } from '../../bench/lib/scenario';

/** The workload of the platform-fault scenarios: a Page with history, customers writing, agents replying. */
export const PAGE_WORKLOAD_OPTIONS = {
  'history-conversations': 'conversations in the Page\'s history (default 20)',
  'history-messages': 'messages per conversation (default 50)',
  messages: 'customer messages (default 1000)',
  rate: 'customer messages per second (default 75)',
  sends: 'replies (default 100)',
};

/** Reads PAGE_WORKLOAD_OPTIONS (`minSends`: the fewest replies the scenario can split into its phases). */
export function pageWorkload(options: Options, minSends = 1) {
  return {
    hc: intOption(options, 'history-conversations', 20, 1),
    hm: intOption(options, 'history-messages', 50, 1),
    messages: intOption(options, 'messages', 1000, 1),
    rate: intOption(options, 'rate', 75, 1),
    sends: intOption(options, 'sends', 100, minSends),
  };
}

export interface Faults {
  /** What the scenario did, for the top of its table. */
  rows: [string, string][];
  figures: Record<string, unknown>;
  /** Checks of its own after everything settled (e.g. what was acknowledged just before a kill). */
  check?: () => Promise<{ rows: [string, string][]; problems: string[]; figures?: Record<string, unknown> }>;
}

/** Settles, audits and builds the result every scenario returns: its own fault rows first. */
export async function finish(stack: ChaosStack, channel: Channel, sends: SendLog[], faults: Faults, settleTimeoutMs = 300_000): Promise<ChaosResult> {
  stack.note('waiting for everything to settle');
  const settled = await settle(stack, channel, sends, settleTimeoutMs);
  stack.note(settled.settled ? `settled after ${(settled.waitedMs / 1000).toFixed(1)} s` : `NOT settled after ${(settled.waitedMs / 1000).toFixed(0)} s: ${settled.why}`);
  const a: Audit = await audit(stack, channel, sends);
  const own = faults.check ? await faults.check() : { rows: [], problems: [], figures: {} };
  const problems = [...verdict(a), ...own.problems];
  if (!settled.settled) problems.push(`did not settle: ${settled.why}`);
  if (stack.unexpectedExits.length) problems.push(`processes exited by themselves: ${stack.unexpectedExits.map((e) => `${e.process} (${e.code}) at ${e.at}`).join(', ')}`);
  return {
    rows: [
      ...faults.rows,
      ...own.rows,
      ...auditRows(a),
      ['settled after the workload (the last recovery)', settled.settled ? `${(settled.waitedMs / 1000).toFixed(1)} s` : `NOT settled in ${(settled.waitedMs / 1000).toFixed(0)} s`],
      ['processes that exited by themselves', stack.unexpectedExits.length ? stack.unexpectedExits.map((e) => `${e.process} at ${e.at}`).join(', ') : 'none'],
      ['verdict', problems.length ? `FAIL (${problems.length})` : 'PASS'],
    ],
    figures: { faults: { ...faults.figures, ...own.figures }, timeline: stack.events, settled, audit: a, unexpectedExits: stack.unexpectedExits, problems },
    problems,
  };
}

/**
 * A scenario that restarts one service on its files mid-run (db-restart, temporal-restart): customers
 * write and agents reply; once 30 % of the messages are stored the service is stopped for
 * --down-seconds and started again; the API and the worker reconnect by themselves, or exit and a
 * supervisor starts them again (reported); then everything must settle with nothing lost.
 */
export function restartScenario(spec: {
  name: string;
  description: string;
  /** What stays down, for the usage text ("how long <it> stays down"). */
  downWhat: string;
  /** Marker in the replies' text. */
  tag: string;
  restart(stack: ChaosStack, downMs: number): Promise<void>;
  /** The table's fault heading, given how long the service was down (seconds, one decimal). */
  fault(downSeconds: string): string;
}): ChaosScenario {
  return {
    name: spec.name,
    description: spec.description,
    options: {
      messages: 'customer messages (default 1500)',
      rate: 'customer messages per second (default 75)',
      sends: 'replies (default 100)',
      'send-rate': 'the channel\'s send rate, so replies span the restart (default 5)',
      'down-seconds': `how long ${spec.downWhat} stays down (default 5)`,
    },
    async run(ctx) {
      const messages = intOption(ctx.options, 'messages', 1500, 10);
      const rate = intOption(ctx.options, 'rate', 75, 1);
      const sends = intOption(ctx.options, 'sends', 100, 1);
      const sendRate = intOption(ctx.options, 'send-rate', 5, 1);
      const downSeconds = intOption(ctx.options, 'down-seconds', 5, 0);

      const { stack, channel, conversations } = await startPageStack(ctx);
      const traffic = await startTraffic(stack, channel, conversations, { tag: spec.tag, messages, rate, sends, sendRate, channelSendRate: true });

      const atRestart = await traffic.stored(0.3);
      const t = Date.now();
      await spec.restart(stack, downSeconds * 1000);
      const downMs = Date.now() - t;
      await sleep(2000);
      await stack.superviseOnce();

      await traffic.done();
      return finish(stack, channel, [traffic.log], {
        rows: [
          ['', spec.fault((downMs / 1000).toFixed(1))],
          ['customer messages / replies', `${messages} at ${rate}/s / ${sends} at ${sendRate}/s`],
          ['restarted when stored (live)', `${atRestart} of ${messages}`],
        ],
        figures: { messages, rate, sends, sendRate, storedAtRestart: atRestart, downMs },
      });
    },
  };
}
