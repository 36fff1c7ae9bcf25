// The stack one chaos scenario runs on, every piece a real process that can be killed or restarted:
// the Temporal dev server with a SQLite file (state survives its restart), FerretDB with its SQLite
// directory kept, and the API and the worker as child processes (`npm run api` / `npm run worker`
// entry points) with their logs kept in a file. The platform sandbox runs in this process, over real
// HTTP, so the audit can read what it sent (its world and request log) without asking it.
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import { createTenantWithAdminKey } from '../../../api/auth/keys';
import { generateEncryptionKeys } from '../../../lib/crypto';
import { ensureIndexes } from '../../../lib/db';
import { startSandbox, type Sandbox } from '../../../sandbox/sandbox';
import type { SeedOptions } from '../../../sandbox/platforms/types';
import { freePort, startProcess, waitUntil, type Service } from '../../stack/processes';
import { startFerretDB, startTemporal } from '../../stack/services';
import { ROOT } from '../../stack/tools';

export type Say = (line: string) => void;
export type Defer = (what: string, stop: () => Promise<void> | void) => void;

export interface ChaosStackOptions {
  /** Sandbox history per business account (what a backfill reads). */
  world: SeedOptions;
  /** How long an injected sandbox "timeout" hangs before its 504 (longer than our clients wait). */
  hangMs?: number;
  /** Every child's log lines go here (bench-results/chaos-<scenario>-<time>.log). */
  logFile: string;
  say: Say;
  defer: Defer;
}

type Role = 'api' | 'worker';

export class ChaosStack {
  readonly dir: string;
  readonly temporalPort: number;
  readonly ferretPort: number;
  readonly apiPort: number;
  readonly apiUrl: string;
  readonly mongodbUri: string;
  readonly taskQueue: string;
  sandbox!: Sandbox;
  temporal!: Client;
  key = '';
  tenantId = '';
  /** Times each process was killed or restarted by the scenario, and exits nobody asked for. */
  readonly events: { at: string; what: string }[] = [];
  readonly unexpectedExits: { process: string; code: number | string; at: string }[] = [];

  private temporalService?: Service;
  private ferretService?: Service;
  private readonly children: Partial<Record<Role, Service>> = {};
  private readonly intentional = new Set<Service>();
  private readonly log: WriteStream;
  private readonly childEnv: NodeJS.ProcessEnv;
  private readonly t0 = Date.now();
  private temporalConnection?: Connection;
  /** Lines containing these strings, seen since the process started (e.g. "worker running"). */
  private readonly seen: Record<Role, string[]> = { api: [], worker: [] };

  private constructor(private readonly opts: ChaosStackOptions, ports: { temporal: number; ferret: number; api: number }) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-chaos-'));
    this.temporalPort = ports.temporal;
    this.ferretPort = ports.ferret;
    this.apiPort = ports.api;
    this.apiUrl = `http://127.0.0.1:${ports.api}`;
    this.mongodbUri = `mongodb://127.0.0.1:${ports.ferret}/switchboard_chaos`;
    this.taskQueue = `chaos_${Date.now().toString(36)}`;
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
    this.childEnv = {
      ...process.env,
      MONGODB_URI: this.mongodbUri,
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      // One key set for the whole run: restarted processes must read what earlier ones sealed.
      ENCRYPTION_KEYS: generateEncryptionKeys('chaos1'),
      API_PORT: String(ports.api),
      API_HOST: '127.0.0.1',
      PUBLIC_URL: this.apiUrl,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      // Only webhooks and the backfill bring messages in during a scenario: a periodic sync or the
      // reconciliation sweep filling a gap would hide a loss on the webhook path.
      SYNC_INTERVAL_SECONDS: '3600',
      RECONCILE_INTERVAL_MINUTES: '1440',
    };
  }

  static async start(opts: ChaosStackOptions): Promise<ChaosStack> {
    const stack = new ChaosStack(opts, { temporal: await freePort(), ferret: await freePort(), api: await freePort() });
    opts.defer('chaos stack', () => stack.stop());
    await stack.boot();
    return stack;
  }

  private stamp(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1)}s`;
  }

  note(what: string): void {
    this.events.push({ at: this.stamp(), what });
    this.writeLog('chaos', what);
    this.opts.say(what);
  }

  private writeLog(name: string, line: string) {
    this.log.write(`${new Date().toISOString()} ${name.padEnd(8)} ${line}\n`);
  }

  private async boot() {
    const { say } = this.opts;
    say(`starting Temporal (port ${this.temporalPort}, SQLite file) and FerretDB (port ${this.ferretPort}) in ${this.dir}`);
    [this.temporalService, this.ferretService] = await Promise.all([this.startTemporal(), this.startFerret()]);
    await mongoose.connect(this.mongodbUri, { serverSelectionTimeoutMS: 30_000, autoIndex: false });
    await ensureIndexes();
    this.temporalConnection = await Connection.connect({ address: `127.0.0.1:${this.temporalPort}` });
    this.temporal = new Client({ connection: this.temporalConnection });

    this.sandbox = await startSandbox({
      world: this.opts.world, platforms: ['meta'], hangMs: this.opts.hangMs ?? 25_000,
      // Meta retries a failed delivery for hours; the default horizon (about 50 s) would let a
      // long outage of ours drop events before our product ever saw them. Here: about 10 minutes,
      // at most a minute apart (so a run settles soon after the product is back).
      delivery: { retryDelaysMs: [1000, 2000, 4000, 8000, 15_000, 30_000, ...Array<number>(8).fill(60_000)], timeoutMs: 10_000 },
    });
    this.sandbox.ctx.apps.addRedirectUri('meta', `${this.apiUrl}/v1/oauth/callback`);
    this.sandbox.ctx.webhooks.setTarget('meta', `${this.apiUrl}/webhooks/meta`);
    this.childEnv.SANDBOX_URL = this.sandbox.url;

    say('starting the API and the worker (child processes)');
    await Promise.all([this.startApi(), this.startWorker()]);
    const tenant = await createTenantWithAdminKey('Chaos');
    this.key = tenant.secret;
    this.tenantId = String(tenant.tenant._id);
  }

  private startTemporal() {
    return startTemporal({
      port: this.temporalPort, uiPort: null, dbFile: path.join(this.dir, 'temporal.db'),
      onLine: (line) => this.writeLog('temporal', line),
    });
  }

  private startFerret() {
    return startFerretDB({ port: this.ferretPort, dataDir: path.join(this.dir, 'ferretdb'), onLine: (line) => this.writeLog('ferretdb', line) });
  }

  private spawnChild(role: Role): Service {
    this.seen[role] = [];
    const service = startProcess({
      name: role, command: process.execPath, args: ['--import', 'tsx', role === 'api' ? 'api/main.ts' : 'workers/main.ts'], cwd: ROOT, env: this.childEnv,
      onLine: (line) => {
        this.writeLog(role, line);
        if (line.includes('worker running') || line.includes('API listening')) this.seen[role].push(line);
      },
    });
    this.children[role] = service;
    void service.exited.then((code) => {
      if (this.intentional.has(service)) return;
      this.unexpectedExits.push({ process: role, code, at: this.stamp() });
      this.note(`${role} exited by itself (${code})`);
    });
    return service;
  }

  async startApi(): Promise<void> {
    const api = this.spawnChild('api');
    await waitUntil(api, 'the API to be ready', async () => (await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, 120_000);
  }

  async startWorker(): Promise<void> {
    const worker = this.spawnChild('worker');
    await waitUntil(worker, 'the worker to run', async () => this.seen.worker.length > 0, 180_000);
  }

  /** Whether the API or worker process is up (not killed, not exited). */
  running(role: Role): boolean {
    const s = this.children[role];
    return !!s && s.child.exitCode === null && s.child.signalCode === null;
  }

  /** SIGKILL, no warning: what a crash, the OOM killer or a lost machine does. */
  async kill(role: Role, why: string): Promise<void> {
    const s = this.children[role];
    if (!s) return;
    this.intentional.add(s);
    s.child.kill('SIGKILL');
    await s.exited;
    this.note(`SIGKILL ${role} (${why})`);
  }

  /** SIGKILL without waiting: for killing in the same tick an acknowledgement arrives. */
  killNow(role: Role): void {
    const s = this.children[role];
    if (!s || !this.running(role)) return;
    this.intentional.add(s);
    s.child.kill('SIGKILL');
  }

  async restart(role: Role): Promise<void> {
    const t = Date.now();
    if (role === 'api') await this.startApi();
    else await this.startWorker();
    this.note(`${role} restarted (ready after ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }

  /** Stops the Temporal dev server (SIGTERM) and starts it again on the same port and file. */
  async restartTemporal(downMs = 0): Promise<void> {
    this.note('stopping the Temporal dev server');
    await this.temporalService?.stop();
    if (downMs) await sleep(downMs);
    const t = Date.now();
    this.temporalService = await this.startTemporal();
    this.note(`Temporal dev server restarted from its SQLite file (serving after ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }

  /** Stops FerretDB (SIGTERM) and starts it again on the same port and data directory. */
  async restartDatabase(downMs = 0): Promise<void> {
    this.note('stopping FerretDB');
    await this.ferretService?.stop();
    if (downMs) await sleep(downMs);
    const t = Date.now();
    this.ferretService = await this.startFerret();
    this.note(`FerretDB restarted on its SQLite directory (serving after ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }

  /**
   * A process supervisor's job (systemd, Kubernetes): when the worker or API exited by itself,
   * start it again. Each such exit stays in `unexpectedExits` for the report.
   */
  async superviseOnce(): Promise<void> {
    for (const role of ['worker', 'api'] as const) {
      const s = this.children[role];
      if (s && !this.running(role) && !this.intentional.has(s)) {
        this.intentional.add(s);
        this.note(`supervisor: starting the ${role} again`);
        await (role === 'api' ? this.startApi() : this.startWorker());
      }
    }
  }

  /** Calls the API over HTTP with this tenant's admin key. */
  async call(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${this.apiUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, json, text };
  }

  /** The sandbox's admin API, over HTTP like any operator would use it. */
  async admin(method: string, p: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${this.sandbox.url}/__admin${p}`, {
      method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`sandbox admin ${method} ${p} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  async stop(): Promise<void> {
    for (const role of ['api', 'worker'] as const) {
      const s = this.children[role];
      if (s) { this.intentional.add(s); await s.stop(10_000); }
    }
    await this.sandbox?.close().catch(() => undefined);
    await this.temporalConnection?.close().catch(() => undefined);
    await mongoose.disconnect().catch(() => undefined);
    await this.temporalService?.stop();
    await this.ferretService?.stop();
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value (errors count as "not yet": a server may be down). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null | 0>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`gave up after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
