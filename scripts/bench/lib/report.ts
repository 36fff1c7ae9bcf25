// `npm run bench:report`: writes BENCHMARKS.md from the newest result of every benchmark scenario
// and chaos scenario in bench-results/ (this file lives in lib/: main.ts takes every file beside
// it for a scenario). Every figure in the file comes from those JSON files — the
// tables the runs printed, and the targets checked against their figures — never typed by hand.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../stack/tools';

const RESULTS = path.join(ROOT, 'bench-results');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BENCH = ['webhooks', 'backfill', 'send', 'scale'] as const;

const ABOUT: Record<string, string> = {
  webhooks: 'Signed Messenger webhook deliveries posted by autocannon from a separate process into one channel: one message each at a fixed rate (a tenth sent twice), then flat out in deliveries of many messages, as Meta batches them under load. Baselines in the same run on the same server: the raw driver bulk-inserting message-shaped documents (into a bare collection, and into one with the messages indexes; into a fresh database before the run and into the run\'s database after it, the faster counting), and a bare Hono handler doing one insert per request under the same load.',
  backfill: 'A Messenger Page connected through the API (OAuth consent in the sandbox) and its whole history backfilled by the channel workflow. Baseline: the raw driver bulk-inserting as many message documents into the same database.',
  send: 'Replies posted through the API to one Messenger channel whose send rate is set with PATCH /v1/channels/:id, a tenth of them posted twice with the same Idempotency-Key; the sandbox\'s request log says what the platform received and when. Baseline: the cap\'s own pace (sends ÷ cap), the earliest any run that never exceeds the cap can finish.',
  scale: 'N channels connected to one worker, each with its channel workflow syncing incrementally every interval, started spread over one interval, measured after one interval of warm-up. The worker\'s workflow cache is sized to the channels (`WORKER_MAX_CACHED_WORKFLOWS`, `--cache`; 0 = the SDK\'s default, about 2,300 workflows here, with which every sync replays an evicted workflow). Baseline: the same incremental sync activity called directly (no Temporal), its CPU per sync.',
};

/** What limits a target when it is missed, and what would close it (the figures are in the tables). */
const LIMITS: Record<string, string> = {
  'webhooks:sustained store rate vs raw insert': 'What is left per stored message is what the intake must do: the queue write before the acknowledgement (one document per delivery for a batched one), the message insert into a collection with three indexes, and the `message.created` event append, plus a conversation summary update per conversation per batch. On FerretDB, whose SQLite backend has one writer, the indexed message insert alone runs at the indexed raw rate and the event append costs about a bare insert, so those two alone cap the pipeline near 0.38× of the bare raw insert (see the database time table): 0.5× is out of reach here with an indexed message and an event log, whatever the queue costs. A database that writes in parallel (real MongoDB, which the target was written for) would move it; so would the queue and the event log in databases of their own (separate SQLite files, separate writers), not done because it bends the data layout around FerretDB.',
  'webhooks:end-to-end p99': 'End-to-end latency follows the drain: when FerretDB is saturated the queue grows and every event waits behind it.',
  'webhooks:ack p99 vs bare handler': 'The acknowledgement waits for the queue insert, which shares FerretDB with the drain\'s writes; the bare handler runs on an idle database.',
  'scale:syncs done vs due': 'Syncs fall behind when the worker\'s workflow cache is smaller than the channels (each sync then replays the channel workflow from its history) or when the two cores are shared with other work.',
};

interface Target { what: string; value: string; target: string; met: boolean | null }

function targets(name: string, r: Json): Target[] {
  const t: Target[] = [];
  const fmt = (n: unknown, unit = '') => (typeof n === 'number' ? `${Math.round(n * 100) / 100}${unit}` : 'n/a');
  if (name === 'webhooks' && r.fixed) {
    t.push({ what: 'stored once (stored / distinct sent, duplicates)', value: `${r.fixed.stored} / ${r.fixed.distinct}, ${r.fixed.duplicatesStored} dup`, target: 'all, 0 dup', met: r.fixed.stored === r.fixed.distinct && r.fixed.duplicatesStored === 0 });
    t.push({ what: 'end-to-end p99', value: fmt(r.fixed.e2eMs?.p99, ' ms'), target: '≤ 2,000 ms', met: r.fixed.e2eMs?.p99 <= 2000 });
    t.push({ what: 'ack p99 vs bare handler', value: fmt(r.ratios?.fixedAckP99VsBare, '×'), target: '≤ 2×', met: r.ratios?.fixedAckP99VsBare <= 2 });
    t.push({ what: 'sustained store rate vs raw insert', value: fmt(r.ratios?.flatStoredVsRawInsert, '×'), target: '≥ 0.5×', met: r.ratios?.flatStoredVsRawInsert >= 0.5 });
    if (r.ratios?.flatStoredVsRawIndexedInsert != null) t.push({ what: 'sustained store rate vs raw insert with the messages indexes', value: fmt(r.ratios.flatStoredVsRawIndexedInsert, '×'), target: '(reported)', met: null });
  }
  if (name === 'backfill' && r.check) {
    t.push({ what: 'lost / duplicated', value: `${r.check.lost} / ${r.check.duplicated}`, target: '0 / 0', met: r.check.lost === 0 && r.check.duplicated === 0 });
    t.push({ what: 'backfill rate vs raw insert', value: fmt(r.baseline?.ratio, '×'), target: '(reported)', met: null });
  }
  if (name === 'send') {
    t.push({ what: 'platform sends per message (missing / duplicated)', value: `${r.missing} / ${r.duplicated}`, target: '0 / 0', met: r.missing === 0 && r.duplicated === 0 });
    t.push({ what: 'most sends in any second vs cap', value: `${r.maxSendsInAnySecond} / ${r.capPerSecond}`, target: 'never above', met: r.maxSendsInAnySecond <= r.capPerSecond });
    t.push({ what: 'completion vs N ÷ cap', value: fmt(r.completionVsIdeal, '×'), target: '(reported)', met: null });
  }
  if (name === 'scale') {
    t.push({ what: 'syncs done vs due', value: fmt(r.syncsDoneVsDue, '×'), target: '≈ 1×', met: r.syncsDoneVsDue >= 0.95 });
    t.push({ what: 'worst sync lag p99', value: fmt(r.lagMs?.worstP99, ' ms'), target: '(reported)', met: null });
    t.push({ what: 'CPU per sync, orchestrated vs direct', value: fmt(r.cpuMsPerSync?.ratio, '×'), target: '(reported)', met: null });
  }
  return t;
}

function newest(prefix: string): Json | null {
  const files = readdirSync(RESULTS).filter((f) => f.startsWith(`${prefix}-2`) && f.endsWith('.json')).sort();
  if (files.length === 0) return null;
  const file = files.at(-1)!;
  return { ...JSON.parse(readFileSync(path.join(RESULTS, file), 'utf8')), _file: file };
}

function table(rows: [string, string][]): string {
  const out: string[] = [];
  let open = false;
  for (const [k, v] of rows) {
    if (!k) {
      out.push('', `**${v}**`, '');
      open = false;
      continue;
    }
    if (!open) { out.push('| | |', '| --- | ---: |'); open = true; }
    out.push(`| ${k} | ${v.replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n');
}

const command = (kind: 'bench' | 'chaos', name: string, options: Json = {}) =>
  `npm run ${kind} -- ${name}${Object.entries(options).filter(([k]) => !k.startsWith('_')).map(([k, v]) => (v === true ? ` --${k}` : ` --${k} ${v}`)).join('')}`;

function main() {
  const lines: string[] = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench:report` from the newest results in `bench-results/` (written by',
    '`npm run bench` and `npm run chaos`). Every figure below comes from those files; rerun the',
    'commands and this report to reproduce them. Each scenario starts its own stack — Temporal dev',
    'server, FerretDB (SQLite), the platform sandbox, the real worker and API — and measures its',
    'baseline in the same run, so figures read as ratios on a shared, noisy machine.',
    '',
  ];
  const first = BENCH.map((n) => newest(n)).find(Boolean);
  if (first?.machine) {
    const m = first.machine;
    lines.push(`**Machine:** ${m.cpus} × ${m.cpuModel}, ${m.totalMemory} RAM, ${m.platform}, Node ${m.node}. No Docker: FerretDB v1.24.2 (our build, \`scripts/ferretdb/\`) stands in for MongoDB.`, '');
  }
  const summary: string[] = ['## Targets', '', '| scenario | what | measured | target | |', '| --- | --- | --- | --- | --- |'];
  const sections: string[] = [];
  const misses: string[] = [];
  for (const name of BENCH) {
    const r = newest(name);
    sections.push(`## \`${name}\``, '', ABOUT[name]!, '');
    if (!r) { sections.push('_No result yet: run `npm run bench -- ' + name + '`._', ''); continue; }
    sections.push(`Command: \`${r.command ?? command('bench', name, r.options)}\` — run ${r.date}, file \`bench-results/${r._file}\`.`, '');
    if (Array.isArray(r.rows)) sections.push(table(r.rows), '');
    for (const t of targets(name, r)) {
      summary.push(`| ${name} | ${t.what} | ${t.value} | ${t.target} | ${t.met === null ? '' : t.met ? 'met' : '**missed**'} |`);
      if (t.met === false && LIMITS[`${name}:${t.what}`]) misses.push(`- **${name}, ${t.what}:** ${LIMITS[`${name}:${t.what}`]}`);
    }
  }
  // Chaos: one result per scenario name (chaos-<scenario>-<time>.json).
  const chaosNames = [...new Set(readdirSync(RESULTS).filter((f) => f.startsWith('chaos-') && f.endsWith('.json')).map((f) => f.replace(/^chaos-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '')))].sort();
  const chaos: string[] = ['## Chaos (`npm run chaos`)', ''];
  if (chaosNames.length === 0) chaos.push('_No result yet: run `npm run chaos`._', '');
  else {
    chaos.push(
      'Per scenario, from its newest result: messages the sandbox sent (live and history) against what was stored by natural key; replies requested against sends the platform accepted; whether every workflow resumed and every reply ended sent/delivered/read or failed with a reason.', '',
      '| scenario | passed | messages sent | stored | lost | duplicated | replies requested | accepted | duplicated | final statuses | workflows resumed | took |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |',
    );
    for (const name of chaosNames) {
      const r = newest(`chaos-${name}`)!;
      const a = r.audit ?? {};
      const statuses = Object.entries(a.sends?.statuses ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
      chaos.push(`| \`${name}\` | ${r.passed ? 'yes' : '**no**'} | ${a.sandbox?.messages ?? ''} | ${a.stored?.found ?? ''} | ${a.stored?.lost ?? ''} | ${a.stored?.duplicated ?? ''} | ${a.sends?.requested ?? ''} | ${a.sends?.delivered ?? ''} | ${a.sends?.duplicated ?? ''} | ${statuses} | ${a.workflows?.resumed ? 'yes' : '**no**'} | ${r.seconds ?? ''} s |`);
    }
    chaos.push('');
    for (const name of chaosNames) {
      const r = newest(`chaos-${name}`)!;
      chaos.push(`### \`${name}\``, '', `Command: \`${r.command ?? command('chaos', name, r.options)}\` — run ${r.date ?? ''}, file \`bench-results/${r._file}\`.`, '');
      if (Array.isArray(r.timeline) && r.timeline.length) chaos.push(...r.timeline.map((t: { at: string; what: string }) => `- ${t.at}: ${t.what}`), '');
      if (Array.isArray(r.problems) && r.problems.length) chaos.push('Problems:', ...r.problems.map((p: unknown) => `- ${String(typeof p === 'string' ? p : JSON.stringify(p))}`), '');
    }
  }
  if (misses.length) summary.push('', '**What limits the missed targets**', '', ...misses);
  lines.push(...summary, '', ...sections, ...chaos);
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
  process.stdout.write(`wrote BENCHMARKS.md (${BENCH.filter((n) => newest(n)).length} benchmark and ${chaosNames.length} chaos results)\n`);
}

main();
