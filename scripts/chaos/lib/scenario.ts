// What a chaos scenario is: one file under scripts/chaos/scenarios/ exporting `scenario`. It starts
// its stack, runs a workload, injects its faults while the workload runs, waits for the stack to
// settle and audits it (lib/audit.ts). main.ts prints the table, writes the JSON, and fails the run
// when any scenario lost or duplicated anything or left something unfinished.
import { audit, auditRows, verdict, type Audit } from './audit';
import { settle } from './settle';
import type { ChaosStack, Defer, Say } from './stack';
import type { Channel, SendLog } from './workload';

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
