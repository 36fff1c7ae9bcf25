// `npm run bench [-- <scenario>…] [--option value…]`: runs benchmark scenarios, each on a stack of
// its own (Temporal dev server + FerretDB on free ports, the sandbox, the real worker and the API;
// see lib/stack.ts), prints a table per scenario and writes its figures, the machine and the date
// to bench-results/<scenario>-<timestamp>.json. Without a scenario name it runs every one.
//
// A scenario is a file scripts/bench/<name>.ts exporting `scenario` (lib/scenario.ts): add one and
// it is found here. Examples:
//   npm run bench                                               every scenario, default sizes
//   npm run bench -- backfill --conversations 10 --messages 100 quick smoke run
//   npm run bench -- backfill --cpu-profile                     also a CPU profile of the backfill
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { table, type Options, type Scenario } from './lib/scenario';
import { ROOT } from '../stack/tools';

const OUT_DIR = path.join(ROOT, 'bench-results');

async function loadScenarios(): Promise<Map<string, Scenario>> {
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && f !== 'main.ts').sort();
  const found = new Map<string, Scenario>();
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(__dirname, file)).href)) as { scenario?: Scenario; default?: { scenario?: Scenario } };
    const scenario = mod.scenario ?? mod.default?.scenario;
    if (!scenario) throw new Error(`scripts/bench/${file} exports no \`scenario\``);
    if (scenario.name !== path.basename(file, '.ts')) throw new Error(`scripts/bench/${file} names its scenario "${scenario.name}"; use the file name`);
    found.set(scenario.name, scenario);
  }
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

function usage(scenarios: Map<string, Scenario>): string {
  const lines = ['usage: npm run bench [-- <scenario>…] [options]', '', 'scenarios:'];
  for (const s of scenarios.values()) {
    lines.push(`  ${s.name.padEnd(12)} ${s.description}`);
    for (const [opt, what] of Object.entries(s.options)) lines.push(`      --${opt.padEnd(18)} ${what}`);
  }
  return lines.join('\n');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', totalMemoryBytes: os.totalmem(),
    totalMemory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const scenarios = await loadScenarios();
  const { names, options } = parseArgs(process.argv.slice(2));
  if (options.help) { process.stdout.write(`${usage(scenarios)}\n`); return 0; }
  const unknown = names.filter((n) => !scenarios.has(n));
  if (unknown.length) { process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n\n${usage(scenarios)}\n`); return 2; }
  const chosen = names.length ? [...new Set(names)].map((n) => scenarios.get(n)!) : [...scenarios.values()];

  // Stops registered by the running scenario, run in reverse on the way out (also on a signal).
  // A signal and the scenario's own failure may both ask: they share one run of the stops.
  const stops: { what: string; stop: () => Promise<void> | void }[] = [];
  let stopping: Promise<void> | undefined;
  const runStops = () => {
    stopping ??= (async () => {
      while (stops.length) {
        const { what, stop } = stops.pop()!;
        try { await stop(); } catch (err) { process.stderr.write(`[bench] stopping ${what} failed: ${(err as Error).message}\n`); }
      }
    })().finally(() => { stopping = undefined; });
    return stopping;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n[bench] ${signal}: stopping…\n`);
    void runStops().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  mkdirSync(OUT_DIR, { recursive: true });
  let failed = 0;
  for (const scenario of chosen) {
    const timestamp = new Date().toISOString().replace(/[:.]/g, '-');
    const t0 = performance.now();
    const say = (line: string) => process.stdout.write(`[${scenario.name} ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
    say(`${scenario.description}`);
    try {
      const started = new Date();
      const result = await scenario.run({ options, say, defer: (what, stop) => stops.push({ what, stop }), outDir: OUT_DIR, timestamp });
      await runStops();
      const file = path.join(OUT_DIR, `${scenario.name}-${timestamp}.json`);
      writeFileSync(file, `${JSON.stringify({ scenario: scenario.name, date: started.toISOString(), finishedAt: new Date().toISOString(), machine: machine(), command: `npm run bench -- ${[scenario.name, ...process.argv.slice(2).filter((a) => a !== scenario.name && !chosen.some((c) => c.name === a))].join(' ')}`, options, ...result.figures, rows: result.rows }, null, 2)}\n`);
      process.stdout.write(`\n${table(`${scenario.name} — ${new Date().toISOString()}`, result.rows)}\n`);
      say(`figures written to ${path.relative(process.cwd(), file)}`);
    } catch (err) {
      failed++;
      if (interrupted) say('interrupted');
      else process.stderr.write(`[${scenario.name}] failed: ${(err as Error).stack ?? err}\n`);
      await runStops();
    }
    if (interrupted) break;
  }
  return interrupted ? 130 : failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
