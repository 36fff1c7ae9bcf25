// An in-process CPU profile (node:inspector) around a phase of a scenario, written as a
// .cpuprofile (open it in Chrome DevTools or speedscope) and summarised: self time by module
// (package, project folder, node internals, GC, idle) and the hottest functions.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { ROOT } from '../../stack/tools';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[]; startTime: number; endTime: number }

export interface CpuProfileSummary {
  file: string;
  totalMs: number;
  byModule: { module: string; ms: number; share: number }[];
  topFunctions: { fn: string; module: string; ms: number; share: number }[];
}

export async function startCpuProfile(): Promise<{ stop(file: string): Promise<CpuProfileSummary> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return {
    async stop(file: string) {
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
      session.disconnect();
      writeFileSync(file, JSON.stringify(profile));
      return { file, ...summarise(profile) };
    },
  };
}

export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(u);
    return `node:${m?.[1] ?? 'internal'}`;
  }
  if (u.startsWith(ROOT)) {
    const rel = path.relative(ROOT, u).split('/');
    return rel.length > 1 ? `${rel[0]}/` : rel[0]!;
  }
  return u;
}

function summarise(profile: Profile): Omit<CpuProfileSummary, 'file'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const byModule = new Map<string, number>();
  const byFn = new Map<string, { module: string; ms: number }>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
    const where = node.callFrame.url ? `${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : '';
    const key = `${node.callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    const f = byFn.get(key) ?? { module: mod, ms: 0 };
    f.ms += ms;
    byFn.set(key, f);
  }
  const share = (ms: number) => Math.round((1000 * ms) / totalMs) / 10;
  return {
    totalMs: Math.round(totalMs),
    byModule: [...byModule].sort((a, b) => b[1] - a[1]).map(([module, ms]) => ({ module, ms: Math.round(ms), share: share(ms) })),
    topFunctions: [...byFn].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).map(([fn, v]) => ({ fn, module: v.module, ms: Math.round(v.ms), share: share(v.ms) })),
  };
}
