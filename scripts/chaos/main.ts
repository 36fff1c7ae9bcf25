// `npm run chaos [-- <scenario>…] [--option value…]`: fault scenarios end to end, each on a stack
// of its own made of real processes (Temporal dev server on a SQLite file, FerretDB, the API and the
// worker as child processes, the platform sandbox over HTTP; lib/stack.ts). Each scenario runs
// customers writing and agents replying while it injects its faults, waits for the stack to settle
// and counts, by natural key, what the sandbox sent against what was stored and sent (lib/audit.ts).
// Prints a table per scenario and a summary, writes bench-results/chaos-<scenario>-<timestamp>.json
// (and the processes' logs next to it, .log), and exits 1 when any scenario lost or duplicated
// anything, left a reply unsettled or a workflow not resumed.
//
// A scenario is a file scripts/chaos/scenarios/<name>.ts exporting `scenario` (lib/scenario.ts).
//   npm run chaos                                  every scenario, default sizes (≈ 15 min on 2 cores)
//   npm run chaos -- api-kill                      one
//   npm run chaos -- webhooks --messages 10000     bigger
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { table } from '../bench/lib/scenario';
import { ROOT } from '../stack/tools';
import type { ChaosScenario, Options } from './lib/scenario';

const OUT_DIR = path.join(ROOT, 'bench-results');
const SCENARIO_DIR = path.join(__dirname, 'scenarios');

async function loadScenarios(): Promise<Map<string, ChaosScenario>> {
  const found = new Map<string, ChaosScenario>();
  const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.ts'));
  const loaded: ChaosScenario[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(SCENARIO_DIR, file)).href)) as { scenario?: ChaosScenario; default?: { scenario?: ChaosScenario } };
    const scenario = mod.scenario ?? mod.default?.scenario;
    if (!scenario) throw new Error(`scripts/chaos/scenarios/${file} exports no \`scenario\``);
    if (scenario.name !== path.basename(file, '.ts')) throw new Error(`scripts/chaos/scenarios/${file} names its scenario "${scenario.name}"; use the file name`);
    loaded.push(scenario);
  }
  // The order the issue lists them in.
  const order = ['webhooks', 'worker-kill', 'api-kill', 'temporal-restart', 'db-restart', 'platform-errors', 'rate-limits', 'token-revocation'];
  loaded.sort((a, b) => (order.indexOf(a.name) + 1 || 99) - (order.indexOf(b.name) + 1 || 99) || a.name.localeCompare(b.name));
  for (const s of loaded) found.set(s.name, s);
  return found;
}

function parseArgs(argv: string[]): { names: string[]; options: Options } {
  const names: string[] = [];
  const options: Options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const [k, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      const next = argv[i + 1];
      if (inline !== undefined) options[k] = inline;
      else if (next !== undefined && !next.startsWith('--')) { options[k] = next; i++; } else options[k] = true;
    } else names.push(arg);
  }
  return { names, options };
}

function usage(scenarios: Map<string, ChaosScenario>): string {
  const lines = ['usage: npm run chaos [-- <scenario>…] [options]', '', 'scenarios:'];
  for (const s of scenarios.values()) {
    lines.push(`  ${s.name.padEnd(17)} ${s.description}`);
    for (const [opt, what] of Object.entries(s.options)) lines.push(`      --${opt.padEnd(22)} ${what}`);
  }
  return lines.join('\n');
}

function machine() {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', totalMemory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`, loadAverage: os.loadavg() };
}

async function main(): Promise<number> {
  const scenarios = await loadScenarios();
  const { names, options } = parseArgs(process.argv.slice(2));
  if (options.help) { process.stdout.write(`${usage(scenarios)}\n`); return 0; }
  const unknown = names.filter((n) => !scenarios.has(n));
  if (unknown.length) { process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n\n${usage(scenarios)}\n`); return 2; }
  const chosen = names.length ? [...new Set(names)].map((n) => scenarios.get(n)!) : [...scenarios.values()];

  // Stops registered by the running scenario, run in reverse on the way out (also on a signal).
  const stops: { what: string; stop: () => Promise<void> | void }[] = [];
  let stopping: Promise<void> | undefined;
  const runStops = () => {
    stopping ??= (async () => {
      while (stops.length) {
        const { what, stop } = stops.pop()!;
        try { await stop(); } catch (err) { process.stderr.write(`[chaos] stopping ${what} failed: ${(err as Error).message}\n`); }
      }
    })().finally(() => { stopping = undefined; });
    return stopping;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n[chaos] ${signal}: stopping…\n`);
    void runStops().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  mkdirSync(OUT_DIR, { recursive: true });
  const summary: [string, string][] = [];
  let failed = 0;
  const runStarted = performance.now();
  for (const scenario of chosen) {
    const timestamp = new Date().toISOString().replace(/[:.]/g, '-');
    const t0 = performance.now();
    const say = (line: string) => process.stdout.write(`[${scenario.name} ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
    const logFile = path.join(OUT_DIR, `chaos-${scenario.name}-${timestamp}.log`);
    say(scenario.description);
    try {
      const started = new Date();
      const result = await scenario.run({ options, say, defer: (what, stop) => stops.push({ what, stop }), logFile });
      await runStops();
      const seconds = (performance.now() - t0) / 1000;
      const file = path.join(OUT_DIR, `chaos-${scenario.name}-${timestamp}.json`);
      writeFileSync(file, `${JSON.stringify({ scenario: scenario.name, date: started.toISOString(), finishedAt: new Date().toISOString(), seconds: Math.round(seconds), machine: machine(), options, passed: result.problems.length === 0, ...result.figures }, null, 2)}\n`);
      process.stdout.write(`\n${table(`chaos ${scenario.name} — ${new Date().toISOString()} (${seconds.toFixed(0)} s)`, result.rows)}\n`);
      for (const p of result.problems) process.stdout.write(`  ✗ ${p}\n`);
      say(`figures written to ${path.relative(process.cwd(), file)}; process logs in ${path.relative(process.cwd(), logFile)}`);
      const audit = result.figures.audit as { stored: { lost: number; duplicated: number }; sends: { duplicated: number } };
      summary.push([scenario.name, `${result.problems.length ? 'FAIL' : 'pass'}: lost ${audit.stored.lost}, duplicated ${audit.stored.duplicated}, sends duplicated ${audit.sends.duplicated} (${seconds.toFixed(0)} s)`]);
      if (result.problems.length) failed++;
    } catch (err) {
      failed++;
      if (interrupted) say('interrupted');
      else process.stderr.write(`[${scenario.name}] failed: ${(err as Error).stack ?? err}\n  (process logs: ${path.relative(process.cwd(), logFile)})\n`);
      summary.push([scenario.name, `ERROR: ${(err as Error).message.slice(0, 100)}`]);
      await runStops();
    }
    if (interrupted) break;
  }
  if (chosen.length > 1) process.stdout.write(`\n${table(`chaos summary — ${((performance.now() - runStarted) / 60_000).toFixed(1)} min`, summary)}\n`);
  return interrupted ? 130 : failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`chaos failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
