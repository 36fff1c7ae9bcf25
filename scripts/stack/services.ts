// The two servers Switchboard stands on, started for real: the Temporal CLI dev server and
// FerretDB on SQLite. Used by `npm start` and by the test runner.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { SEARCH_ATTRIBUTE_KEYS } from '../../lib/domain/search-attributes';
import { startProcess, tcpOpen, waitUntil, type Service, type StartOptions } from './processes';
import { toolPath } from './tools';

const SA_FLAG_TYPE: Record<string, string> = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' };

export interface TemporalOptions {
  port: number;
  /** Web UI port; null runs headless. */
  uiPort: number | null;
  /** SQLite file for persistent state; omitted keeps everything in memory. */
  dbFile?: string;
  namespace?: string;
  onLine?: StartOptions['onLine'];
}

export async function startTemporal(opts: TemporalOptions): Promise<Service> {
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--namespace', namespace, '--log-level', 'error'];
  if (opts.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  for (const key of SEARCH_ATTRIBUTE_KEYS) args.push('--search-attribute', `${key.name}=${SA_FLAG_TYPE[key.type]}`);

  const service = startProcess({ name: 'temporal', command: toolPath('temporal'), args, onLine: opts.onLine });
  try {
    await waitUntil(service, `Temporal on port ${opts.port}`, () => tcpOpen(opts.port), 60_000);
    const connection = await Connection.connect({ address: `127.0.0.1:${opts.port}` });
    try {
      await waitUntil(service, `Temporal namespace "${namespace}"`, async () => {
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      }, 60_000);
    } finally {
      await connection.close();
    }
    return service;
  } catch (err) {
    await service.stop();
    throw err;
  }
}

export interface FerretOptions {
  port: number;
  dataDir: string;
  onLine?: StartOptions['onLine'];
}

export async function startFerretDB(opts: FerretOptions): Promise<Service> {
  mkdirSync(opts.dataDir, { recursive: true });
  const service = startProcess({
    name: 'ferretdb',
    command: toolPath('ferretdb'),
    args: [
      // WAL with synchronous=NORMAL (FerretDB's defaults are WAL and FULL): a commit no longer
      // waits for an fsync, ~2.7× faster updates here, and still nothing is lost when a process
      // dies — only an OS crash or power cut can take back the last commits.
      '--handler=sqlite', `--sqlite-url=file:${opts.dataDir}/?_pragma=synchronous(normal)`, `--state-dir=${opts.dataDir}`,
      // FERRETDB_DEBUG_ADDR (host:port) serves Go's /debug/pprof, to profile the database under a bench.
      `--listen-addr=127.0.0.1:${opts.port}`, `--debug-addr=${process.env.FERRETDB_DEBUG_ADDR || '-'}`, '--telemetry=disable', '--log-level=error',
    ],
    // Go's collector ran ~15 % of FerretDB's CPU under webhook load at the default GOGC=100; its
    // heap is tens of MB, so letting it grow 4× before collecting costs little memory.
    env: { ...process.env, GOGC: process.env.GOGC ?? '400' },
    onLine: opts.onLine,
  });
  try {
    await waitUntil(service, `FerretDB on port ${opts.port}`, async () => {
      const client = await MongoClient.connect(`mongodb://127.0.0.1:${opts.port}/`, { serverSelectionTimeoutMS: 1000 });
      try {
        await client.db('admin').command({ ping: 1 });
        return true;
      } finally {
        await client.close();
      }
    }, 60_000);
    return service;
  } catch (err) {
    await service.stop();
    throw err;
  }
}

/** Waits until a worker polls `taskQueue` (so workflows started now will run). */
export async function waitForWorker(worker: Service, address: string, namespace: string, taskQueue: string, timeoutMs = 120_000): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await waitUntil(worker, `the worker to poll task queue "${taskQueue}"`, async () => {
      const res = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 /* WORKFLOW */ });
      return (res.pollers?.length ?? 0) > 0;
    }, timeoutMs);
  } finally {
    await connection.close();
  }
}
