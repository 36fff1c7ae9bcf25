// Scenario `scale`: many connected channels on one worker, each syncing incrementally every
// `--interval` seconds (default 10,000 channels every 300 s). One Messenger Page is connected
// through the API; its channel record (sealed token included) is copied to N channels of the same
// tenant, and each gets its channel workflow, started already connected and spread evenly over
// one interval (as channels connected over time would be). After a warm-up of one interval the
// run is measured for `--minutes`: syncs done vs due, sync lag (how far past its interval each
// channel's last sync is, sampled every 15 s), this process's RSS (it runs the worker) and the
// CPU of the worker process, the Temporal server and FerretDB. Baseline, in the same run: the same
// incremental sync activity called directly (no Temporal), its CPU per sync, so the figures read
// as "what orchestrating a sync costs over doing it".
import { performance } from 'node:perf_hooks';
import { Types } from 'mongoose';
import type { Document } from 'mongodb';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { channelWorkflowId } from '../../lib/domain/channel';
import { ChannelModel } from '../../models';
import type { channelWorkflow } from '../../workflows/channel';
import { fmtInt, fmtMB, fmtMs, fmtNum, intOption, type Scenario, type ScenarioContext, type ScenarioResult } from './lib/scenario';
import { connectMessengerPage, startStack } from './lib/stack';

const PAGE = '101000000000001';

export const scenario: Scenario = {
  name: 'scale',
  description: 'N connected channels on one worker, each with an incremental sync every interval: sync lag, worker RSS, Temporal and DB CPU',
  options: {
    channels: 'connected channels (default 10000)',
    interval: 'incremental sync interval, seconds (default 300)',
    minutes: 'measured minutes after one interval of warm-up (default 10)',
    'baseline-syncs': 'direct activity calls for the baseline (default 1000)',
    cache: 'the worker\'s workflow cache, WORKER_MAX_CACHED_WORKFLOWS (default: channels + 10 %, as an operator sizes it; 0 = the SDK\'s default)',
  },
  run,
};

const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const channels = intOption(ctx.options, 'channels', 10_000, 1);
  const intervalS = intOption(ctx.options, 'interval', 300, 5);
  const minutes = intOption(ctx.options, 'minutes', 10, 1);
  const baselineSyncs = intOption(ctx.options, 'baseline-syncs', 1000, 10);
  const cache = intOption(ctx.options, 'cache', Math.ceil(channels * 1.1), 0);
  const { say } = ctx;

  const stack = await startStack({ world: { conversations: 5, messagesPerConversation: 2 }, platforms: ['meta'], syncIntervalSeconds: intervalS, maxCachedWorkflows: cache || undefined, say, defer: ctx.defer });
  // --- one real channel, connected the way a user does ------------------------------------------------
  const firstId = await connectMessengerPage(stack, PAGE, 'Scale 0');
  const template = (await ChannelModel.collection.findOne({ _id: new Types.ObjectId(firstId) }))!;
  const tenantId = String(template.tenantId);

  // --- N - 1 copies of it, each with its own workflow ---------------------------------------------------
  say(`creating ${channels - 1} more channels`);
  const ids = [firstId];
  for (let i = 1; i < channels; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, channels - i) }, (_, k) => {
      const _id = new Types.ObjectId();
      ids.push(String(_id));
      return { ...template, _id, name: `Scale ${i + k}`, workflowId: channelWorkflowId(tenantId, 'messenger', String(_id)), status: 'active', lastSyncedAt: new Date() };
    });
    await ChannelModel.collection.insertMany(docs as Document[], { ordered: false });
  }
  // The first channel's own workflow syncs on the same interval already.
  say(`starting ${channels - 1} channel workflows spread over ${intervalS} s`);
  const startBegan = performance.now();
  const spreadMs = (intervalS * 1000) / channels;
  let started = 0;
  let startFailures = 0;
  const starter = (async () => {
    for (let i = 1; i < ids.length; i += 20) {
      const due = startBegan + i * spreadMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await Promise.all(ids.slice(i, i + 20).map(async (id) => {
        try {
          await stack.temporal.workflow.start<typeof channelWorkflow>('channelWorkflow', {
            taskQueue: stack.taskQueue, workflowId: channelWorkflowId(tenantId, 'messenger', id),
            args: [{ tenantId, channelId: id, platform: 'messenger', syncIntervalSeconds: intervalS, carried: { status: 'active', tokenExpiresAt: null, backfillDone: true, syncRequested: false } }],
          });
          started++;
        } catch { startFailures++; }
      }));
    }
  })();

  // --- samples: lag, RSS, CPU -------------------------------------------------------------------------------
  const samples: { at: number; overdueP50: number; overdueP99: number; overdueMax: number; overdueCount: number; rss: number }[] = [];
  let rssPeak = process.memoryUsage().rss;
  const sampleLag = async () => {
    const now = Date.now();
    const docs = await ChannelModel.collection.find({ tenantId: new Types.ObjectId(tenantId) }, { projection: { lastSyncedAt: 1 } }).toArray();
    const overdue = docs.map((d) => Math.max(0, now - new Date(d.lastSyncedAt as Date).getTime() - intervalS * 1000)).sort((a, b) => a - b);
    const rss = process.memoryUsage().rss;
    rssPeak = Math.max(rssPeak, rss);
    samples.push({ at: now, overdueP50: pct(overdue, 0.5), overdueP99: pct(overdue, 0.99), overdueMax: overdue.at(-1) ?? 0, overdueCount: overdue.filter((o) => o > 0).length, rss });
  };
  await starter;
  say(`${started} workflows started (${startFailures} failed) in ${fmtMs(performance.now() - startBegan)}; warming up one interval`);
  await new Promise((r) => setTimeout(r, Math.max(0, intervalS * 1000 - (performance.now() - startBegan))));

  const syncRequests = () => stack.sandbox.ctx.recorder.list({ platform: 'meta' }).filter((r) => r.method === 'GET' && /\/conversations$/.test(r.path)).length;
  stack.sandbox.ctx.recorder.reset();
  const cpu0 = { self: cpuNow(), ...stack.childCpuSeconds() };
  const t0 = performance.now();
  say(`measuring for ${minutes} min`);
  while (performance.now() - t0 < minutes * 60_000) {
    await sampleLag();
    await new Promise((r) => setTimeout(r, 15_000));
  }
  const measuredS = (performance.now() - t0) / 1000;
  const cpu1 = { self: cpuNow(), ...stack.childCpuSeconds() };
  const syncs = syncRequests();
  const due = (channels * measuredS) / intervalS;
  const cpu = {
    workerAndApi: cpu1.self - cpu0.self,
    temporal: cpu1.temporal !== null && cpu0.temporal !== null ? cpu1.temporal - cpu0.temporal : null,
    ferretdb: cpu1.ferretdb !== null && cpu0.ferretdb !== null ? cpu1.ferretdb - cpu0.ferretdb : null,
  };
  await stack.stopWorker();

  // --- baseline: the same sync activity, called directly -----------------------------------------------------
  say(`baseline: ${baselineSyncs} incremental syncs called directly`);
  const { syncChannel } = createActivities(stack.activityDeps);
  // The activity as the worker would run it, minus Temporal (heartbeats go nowhere).
  const direct = new MockActivityEnvironment();
  const b0 = { self: cpuNow(), ...stack.childCpuSeconds(), t: performance.now() };
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < baselineSyncs) {
      const id = ids[next++ % ids.length]!;
      await direct.run(syncChannel, { channelId: id, mode: 'incremental' as const });
    }
  }));
  const b1 = { self: cpuNow(), ...stack.childCpuSeconds(), t: performance.now() };
  const baseline = {
    syncs: baselineSyncs, wallMs: Math.round(b1.t - b0.t), syncsPerSecond: Math.round((baselineSyncs * 1000 * 10) / (b1.t - b0.t)) / 10,
    cpuMsPerSync: {
      process: ((b1.self - b0.self) * 1000) / baselineSyncs,
      ferretdb: b1.ferretdb !== null && b0.ferretdb !== null ? ((b1.ferretdb - b0.ferretdb) * 1000) / baselineSyncs : null,
    },
  };
  const perSync = (s: number | null) => (s === null || syncs === 0 ? null : (s * 1000) / syncs);
  const orchestrated = { process: perSync(cpu.workerAndApi), temporal: perSync(cpu.temporal), ferretdb: perSync(cpu.ferretdb) };
  const totalOrchestrated = (orchestrated.process ?? 0) + (orchestrated.temporal ?? 0) + (orchestrated.ferretdb ?? 0);
  const totalDirect = baseline.cpuMsPerSync.process + (baseline.cpuMsPerSync.ferretdb ?? 0);
  const lagMax = Math.max(0, ...samples.map((s) => s.overdueMax));
  const lagP99 = Math.max(0, ...samples.map((s) => s.overdueP99));

  const figures = {
    channels, intervalS, workflowCache: cache || 'sdk default', measuredMinutes: Math.round(measuredS / 6) / 10, workflowsStarted: started + 1, startFailures,
    syncsDone: syncs, syncsDue: Math.round(due), syncsDoneVsDue: Math.round((syncs / due) * 1000) / 1000,
    lagMs: { worstP50: Math.max(0, ...samples.map((s) => s.overdueP50)), worstP99: lagP99, max: lagMax, mostChannelsOverdue: Math.max(0, ...samples.map((s) => s.overdueCount)) },
    rssMB: { peak: Math.round(rssPeak / 1048576), end: Math.round((samples.at(-1)?.rss ?? 0) / 1048576) },
    cpuSeconds: cpu, cpuPercentOfOneCore: {
      workerAndApi: Math.round((cpu.workerAndApi / measuredS) * 1000) / 10,
      temporal: cpu.temporal === null ? null : Math.round((cpu.temporal / measuredS) * 1000) / 10,
      ferretdb: cpu.ferretdb === null ? null : Math.round((cpu.ferretdb / measuredS) * 1000) / 10,
    },
    cpuMsPerSync: { orchestrated, orchestratedTotal: totalOrchestrated, direct: baseline.cpuMsPerSync, directTotal: totalDirect, ratio: totalDirect > 0 ? Math.round((totalOrchestrated / totalDirect) * 100) / 100 : null },
    baseline, samples,
  };
  const pctOfCore = (v: number | null) => (v === null ? 'n/a' : `${fmtNum(v)} %`);
  return {
    figures,
    rows: [
      ['', `scale: ${fmtInt(channels)} channels, incremental sync every ${intervalS} s, one worker, measured ${fmtNum(figures.measuredMinutes)} min`],
      ['worker workflow cache (WORKER_MAX_CACHED_WORKFLOWS)', cache ? fmtInt(cache) : 'the SDK\'s default (~600 per GiB of heap)'],
      ['syncs done / due', `${fmtInt(syncs)} / ${fmtInt(Math.round(due))} (${fmtNum(figures.syncsDoneVsDue)}×)`],
      ['sync lag p50 / p99 / max', `${fmtMs(figures.lagMs.worstP50)} / ${fmtMs(lagP99)} / ${fmtMs(lagMax)}`],
      ['channels overdue (worst sample)', fmtInt(figures.lagMs.mostChannelsOverdue)],
      ['worker RSS peak / end', `${fmtMB(rssPeak)} / ${fmtMB(samples.at(-1)?.rss ?? 0)}`],
      ['CPU worker+API / Temporal / FerretDB', `${pctOfCore(figures.cpuPercentOfOneCore.workerAndApi)} / ${pctOfCore(figures.cpuPercentOfOneCore.temporal)} / ${pctOfCore(figures.cpuPercentOfOneCore.ferretdb)} of a core`],
      ['', 'CPU per sync: orchestrated vs the activity called directly (baseline)'],
      ['orchestrated (all three processes)', `${fmtNum(totalOrchestrated)} ms`],
      ['direct call (process + FerretDB)', `${fmtNum(totalDirect)} ms (${fmtNum(baseline.syncsPerSecond)} syncs/s at 50 in flight)`],
      ['ratio', figures.cpuMsPerSync.ratio === null ? 'n/a' : `${fmtNum(figures.cpuMsPerSync.ratio)}×`],
    ],
  };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
