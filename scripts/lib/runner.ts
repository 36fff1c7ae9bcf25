// The plumbing `npm run bench` (scripts/bench/main.ts) and `npm run chaos` (scripts/chaos/main.ts)
// share: finding scenario files, reading the command line, the usage text, running the chosen
// scenarios one by one with stops that also run on Ctrl-C, and the machine a result was measured
// on. What each runner does with a scenario's result (files, tables, exit criteria) stays in its
// main.ts.
import { mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../stack/tools';

/** Where both runners write their results (bench-results/, git-ignored). */
export const RESULTS_DIR = path.join(ROOT, 'bench-results');

/** `--key value`, `--key=value` and `--flag` arguments of the command line. */
export type Options = Record<string, string | true>;
export type Say = (line: string) => void;
export type Defer = (what: string, stop: () => Promise<void> | void) => void;

/** What the runner needs to know of a scenario, whichever runner it belongs to. */
export interface ScenarioInfo {
  name: string;
  description: string;
  /** Options it reads, for the usage text. */
  options: Record<string, string>;
}

/**
 * Imports every .ts file of `dir` (but `skip`): each must export `scenario` named after its file,
 * so adding a file is all it takes to add a scenario. Sorted by file name, or by `order` first.
 */
export async function loadScenarios<S extends ScenarioInfo>(dir: string, opts: { skip?: string[]; order?: string[] } = {}): Promise<Map<string, S>> {
  const shown = path.relative(ROOT, dir);
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !opts.skip?.includes(f)).sort();
  const loaded: S[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { scenario?: S; default?: { scenario?: S } };
    const scenario = mod.scenario ?? mod.default?.scenario;
    if (!scenario) throw new Error(`${shown}/${file} exports no \`scenario\``);
    if (scenario.name !== path.basename(file, '.ts')) throw new Error(`${shown}/${file} names its scenario "${scenario.name}"; use the file name`);
    loaded.push(scenario);
  }
  const { order } = opts;
  if (order) loaded.sort((a, b) => (order.indexOf(a.name) + 1 || 99) - (order.indexOf(b.name) + 1 || 99) || a.name.localeCompare(b.name));
  return new Map(loaded.map((s) => [s.name, s]));
}

/** Scenario names and options from the command line (a `--key` not followed by a value is a flag). */
export function parseArgs(argv: string[]): { names: string[]; options: Options } {
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

/** The usage text, from the scenarios' own descriptions; the widths are the columns each runner has always printed. */
export function usage(command: string, scenarios: Map<string, ScenarioInfo>, widths: { name: number; option: number }): string {
  const lines = [`usage: npm run ${command} [-- <scenario>…] [options]`, '', 'scenarios:'];
  for (const s of scenarios.values()) {
    lines.push(`  ${s.name.padEnd(widths.name)} ${s.description}`);
    for (const [opt, what] of Object.entries(s.options)) lines.push(`      --${opt.padEnd(widths.option)} ${what}`);
  }
  return lines.join('\n');
}

/**
 * The scenarios the command line names (every one when it names none) and its options; or the exit
 * code when there is nothing to run: 0 after `--help`, 2 (with the usage) for an unknown name.
 */
export function chooseScenarios<S extends ScenarioInfo>(command: string, scenarios: Map<string, S>, widths: { name: number; option: number }, argv = process.argv.slice(2)): { chosen: S[]; options: Options } | number {
  const { names, options } = parseArgs(argv);
  if (options.help) { process.stdout.write(`${usage(command, scenarios, widths)}\n`); return 0; }
  const unknown = names.filter((n) => !scenarios.has(n));
  if (unknown.length) { process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n\n${usage(command, scenarios, widths)}\n`); return 2; }
  const chosen = names.length ? [...new Set(names)].map((n) => scenarios.get(n)!) : [...scenarios.values()];
  return { chosen, options };
}

/** The machine a result was measured on, for its JSON (the bench also records bytes, chaos the load). */
export function machine(opts: { totalMemoryBytes?: boolean; loadAverage?: boolean } = {}) {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown',
    ...(opts.totalMemoryBytes ? { totalMemoryBytes: os.totalmem() } : {}),
    totalMemory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    ...(opts.loadAverage ? { loadAverage: os.loadavg() } : {}),
  };
}

/** One scenario's run, as the runner's hooks see it. */
export interface ScenarioRun {
  /** For result file names: the ISO time the scenario began, with ':' and '.' replaced. */
  timestamp: string;
  /** performance.now() when the scenario began (its lines' clock). */
  t0: number;
  /** Prints a line prefixed with the scenario's name and seconds since it began. */
  say: Say;
  /** Registers a stop, run in reverse after the scenario (also on a signal or a failure). */
  defer: Defer;
}

export interface RunHooks<S extends ScenarioInfo, R> {
  /** Runs the scenario; the stops it registered run after it returns. */
  run(scenario: S, run: ScenarioRun): Promise<R>;
  /** Reports the result (files, table); false counts the scenario as failed. */
  report(scenario: S, run: ScenarioRun, result: R, started: Date): boolean | void;
  /** Appended to the error a failed scenario prints, e.g. where its logs are. */
  failureNote?(scenario: S, run: ScenarioRun): string;
  /** After a scenario threw (also when a signal interrupted it). */
  failed?(scenario: S, err: unknown): void;
}

/**
 * Runs the scenarios one after another with a shared registry of stops: run in reverse after each
 * scenario, and on SIGINT/SIGTERM (then exit 130); a signal and the scenario's own failure may both
 * ask, and they share one run of the stops. Returns the exit code: 130 when interrupted, 1 when any
 * scenario failed or threw, else 0. `label` prefixes the runner's own messages ("[bench] …").
 */
export async function runScenarios<S extends ScenarioInfo, R>(label: string, chosen: S[], hooks: RunHooks<S, R>): Promise<number> {
  const stops: { what: string; stop: () => Promise<void> | void }[] = [];
  let stopping: Promise<void> | undefined;
  const runStops = () => {
    stopping ??= (async () => {
      while (stops.length) {
        const { what, stop } = stops.pop()!;
        try { await stop(); } catch (err) { process.stderr.write(`[${label}] stopping ${what} failed: ${(err as Error).message}\n`); }
      }
    })().finally(() => { stopping = undefined; });
    return stopping;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n[${label}] ${signal}: stopping…\n`);
    void runStops().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  mkdirSync(RESULTS_DIR, { recursive: true });
  let failed = 0;
  for (const scenario of chosen) {
    const timestamp = new Date().toISOString().replace(/[:.]/g, '-');
    const t0 = performance.now();
    const say = (line: string) => process.stdout.write(`[${scenario.name} ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
    const run: ScenarioRun = { timestamp, t0, say, defer: (what, stop) => stops.push({ what, stop }) };
    say(scenario.description);
    try {
      const started = new Date();
      const result = await hooks.run(scenario, run);
      await runStops();
      if (hooks.report(scenario, run, result, started) === false) failed++;
    } catch (err) {
      failed++;
      if (interrupted) say('interrupted');
      else process.stderr.write(`[${scenario.name}] failed: ${(err as Error).stack ?? err}\n${hooks.failureNote?.(scenario, run) ?? ''}`);
      hooks.failed?.(scenario, err);
      await runStops();
    }
    if (interrupted) break;
  }
  return interrupted ? 130 : failed ? 1 : 0;
}

/** Runs a runner's main and exits with its code; an unexpected error prints "<label> failed: …" and exits 1. */
export function runMain(label: string, main: () => Promise<number>): void {
  main().then((code) => process.exit(code), (err) => {
    process.stderr.write(`${label} failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
