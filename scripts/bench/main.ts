// `npm run bench [-- <scenario>…] [--option value…]`: runs benchmark scenarios, each on a stack of
// its own (Temporal dev server + FerretDB on free ports, the sandbox, the real worker and the API;
// see lib/stack.ts), prints a table per scenario and writes its figures, the machine and the date
// to bench-results/<scenario>-<timestamp>.json. Without a scenario name it runs every one.
//
// A scenario is a file scripts/bench/<name>.ts exporting `scenario` (lib/scenario.ts): add one and
// it is found here (the plumbing shared with `npm run chaos` is in ../lib/runner.ts). Examples:
//   npm run bench                                               every scenario, default sizes
//   npm run bench -- backfill --conversations 10 --messages 100 quick smoke run
//   npm run bench -- backfill --cpu-profile                     also a CPU profile of the backfill
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { table, type Scenario, type ScenarioResult } from './lib/scenario';
import { chooseScenarios, loadScenarios, machine, RESULTS_DIR, runMain, runScenarios } from '../lib/runner';

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const scenarios = await loadScenarios<Scenario>(__dirname, { skip: ['main.ts'] });
  const picked = chooseScenarios('bench', scenarios, { name: 12, option: 18 });
  if (typeof picked === 'number') return picked;
  const { chosen, options } = picked;

  return runScenarios<Scenario, ScenarioResult>('bench', chosen, {
    run: (scenario, { say, defer, timestamp }) => scenario.run({ options, say, defer, outDir: RESULTS_DIR, timestamp }),
    report: (scenario, { say, timestamp }, result, started) => {
      const file = path.join(RESULTS_DIR, `${scenario.name}-${timestamp}.json`);
      writeFileSync(file, `${JSON.stringify({ scenario: scenario.name, date: started.toISOString(), finishedAt: new Date().toISOString(), machine: machine({ totalMemoryBytes: true }), command: `npm run bench -- ${[scenario.name, ...process.argv.slice(2).filter((a) => a !== scenario.name && !chosen.some((c) => c.name === a))].join(' ')}`, options, ...result.figures, rows: result.rows }, null, 2)}\n`);
      process.stdout.write(`\n${table(`${scenario.name} — ${new Date().toISOString()}`, result.rows)}\n`);
      say(`figures written to ${path.relative(process.cwd(), file)}`);
    },
  });
}

runMain('bench', main);
