// `npm run chaos [-- <scenario>…] [--option value…]`: fault scenarios end to end, each on a stack
// of its own made of real processes (Temporal dev server on a SQLite file, FerretDB, the API and the
// worker as child processes, the platform sandbox over HTTP; lib/stack.ts). Each scenario runs
// customers writing and agents replying while it injects its faults, waits for the stack to settle
// and counts, by natural key, what the sandbox sent against what was stored and sent (lib/audit.ts).
// Prints a table per scenario and a summary, writes bench-results/chaos-<scenario>-<timestamp>.json
// (and the processes' logs next to it, .log), and exits 1 when any scenario lost or duplicated
// anything, left a reply unsettled or a workflow not resumed.
//
// A scenario is a file scripts/chaos/scenarios/<name>.ts exporting `scenario` (lib/scenario.ts); the
// plumbing shared with `npm run bench` is in ../lib/runner.ts.
//   npm run chaos                                  every scenario, default sizes (≈ 15 min on 2 cores)
//   npm run chaos -- api-kill                      one
//   npm run chaos -- webhooks --messages 10000     bigger
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { table } from '../bench/lib/scenario';
import { chooseScenarios, loadScenarios, machine, RESULTS_DIR, runMain, runScenarios, type ScenarioRun } from '../lib/runner';
import type { ChaosResult, ChaosScenario } from './lib/scenario';

// The order the issue lists them in.
const ORDER = ['webhooks', 'worker-kill', 'api-kill', 'temporal-restart', 'db-restart', 'platform-errors', 'rate-limits', 'token-revocation'];

/** The children's logs of one scenario, next to its JSON. */
const logFileOf = (scenario: ChaosScenario, { timestamp }: ScenarioRun) => path.join(RESULTS_DIR, `chaos-${scenario.name}-${timestamp}.log`);

async function main(): Promise<number> {
  const scenarios = await loadScenarios<ChaosScenario>(path.join(__dirname, 'scenarios'), { order: ORDER });
  const picked = chooseScenarios('chaos', scenarios, { name: 17, option: 22 });
  if (typeof picked === 'number') return picked;
  const { chosen, options } = picked;

  const summary: [string, string][] = [];
  const runStarted = performance.now();
  const code = await runScenarios<ChaosScenario, ChaosResult>('chaos', chosen, {
    run: (scenario, run) => scenario.run({ options, say: run.say, defer: run.defer, logFile: logFileOf(scenario, run) }),
    report: (scenario, run, result, started) => {
      const logFile = logFileOf(scenario, run);
      const seconds = (performance.now() - run.t0) / 1000;
      const file = path.join(RESULTS_DIR, `chaos-${scenario.name}-${run.timestamp}.json`);
      writeFileSync(file, `${JSON.stringify({ scenario: scenario.name, date: started.toISOString(), finishedAt: new Date().toISOString(), seconds: Math.round(seconds), machine: machine({ loadAverage: true }), options, passed: result.problems.length === 0, ...result.figures }, null, 2)}\n`);
      process.stdout.write(`\n${table(`chaos ${scenario.name} — ${new Date().toISOString()} (${seconds.toFixed(0)} s)`, result.rows)}\n`);
      for (const p of result.problems) process.stdout.write(`  ✗ ${p}\n`);
      run.say(`figures written to ${path.relative(process.cwd(), file)}; process logs in ${path.relative(process.cwd(), logFile)}`);
      const audit = result.figures.audit as { stored: { lost: number; duplicated: number }; sends: { duplicated: number } };
      summary.push([scenario.name, `${result.problems.length ? 'FAIL' : 'pass'}: lost ${audit.stored.lost}, duplicated ${audit.stored.duplicated}, sends duplicated ${audit.sends.duplicated} (${seconds.toFixed(0)} s)`]);
      return result.problems.length === 0;
    },
    failureNote: (scenario, run) => `  (process logs: ${path.relative(process.cwd(), logFileOf(scenario, run))})\n`,
    failed: (scenario, err) => { summary.push([scenario.name, `ERROR: ${(err as Error).message.slice(0, 100)}`]); },
  });
  if (chosen.length > 1) process.stdout.write(`\n${table(`chaos summary — ${((performance.now() - runStarted) / 60_000).toFixed(1)} min`, summary)}\n`);
  return code;
}

runMain('chaos', main);
