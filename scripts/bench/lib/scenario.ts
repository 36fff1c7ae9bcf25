// What a benchmark scenario is: one file under scripts/bench/ exporting `scenario`. main.ts finds
// them, gives each its options, a `defer` to register stops, and writes what it returns.
import type { Defer, Say } from './stack';

export type Options = Record<string, string | true>;

export interface ScenarioContext {
  /** `--key value` and `--flag` arguments of the command line. */
  options: Options;
  say: Say;
  defer: Defer;
  /** Where result files go (bench-results/), and this run's timestamp for their names. */
  outDir: string;
  timestamp: string;
}

export interface ScenarioResult {
  /** The table printed at the end: [label, value] rows; a row with an empty label is a section heading. */
  rows: [string, string][];
  /** Every figure, written to bench-results/<name>-<timestamp>.json with the machine and the date. */
  figures: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  description: string;
  /** Options it reads, for the usage text: e.g. `--conversations N` → "… (default 100)". */
  options: Record<string, string>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export function intOption(options: Options, name: string, fallback: number, min = 0): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === true || !Number.isInteger(n) || n < min) throw new Error(`--${name} needs a whole number ≥ ${min} (got ${raw === true ? 'nothing' : raw})`);
  return n;
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtNum = (n: number, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const fmtMs = (ms: number) => (ms >= 10_000 ? `${fmtNum(ms / 1000, 1)} s` : `${fmtInt(ms)} ms`);
export const fmtMB = (bytes: number) => `${fmtInt(bytes / 1024 / 1024)} MB`;
export const pct = (part: number, whole: number) => (whole > 0 ? `${fmtNum((100 * part) / whole, 1)} %` : '–');

export function table(title: string, rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length), 10);
  const valueWidth = Math.max(...rows.map(([, v]) => v.length), 10);
  const line = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  const out = [line, `| ${title.padEnd(width + valueWidth + 3)} |`, line];
  for (const [k, v] of rows) {
    if (!k && v) out.push(line, `| ${v.padEnd(width + valueWidth + 3)} |`, line);
    else out.push(`| ${k.padEnd(width)} | ${v.padStart(valueWidth)} |`);
  }
  out.push(line);
  return out.join('\n');
}
