// What every test file shares: the run's real Temporal and MongoDB (started by scripts/run-tests.ts),
// a database of its own per file, and a worker on a task queue of its own.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mongoose from 'mongoose';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { ensureIndexes } from '../../lib/db';
import { generateEncryptionKeys } from '../../lib/crypto';
import { loadConfig } from '../../lib/config';
import { platformConfig } from '../../lib/platform-config';
import type { ActivityDeps } from '../../activities';
import { createSwitchboardWorker, WORKFLOWS_PATH } from '../../workers/worker';

export const ROOT = path.resolve(__dirname, '../..');

/** Every log line this test process wrote (SDK/worker at every level, API via its pino logger),
 *  so tests can check that no secret was ever logged. */
export const capturedLogs: string[] = [];

// The worker's and SDK's logs are all captured; test output shows only warnings and errors
// (each test file is its own process).
Runtime.install({
  logger: new DefaultLogger('DEBUG', (entry) => {
    const line = `${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {}, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
    capturedLogs.push(line);
    if (entry.level === 'WARN' || entry.level === 'ERROR') process.stderr.write(`${line}\n`);
  }),
});

export function requireEnv(name: 'TEMPORAL_ADDRESS' | 'MONGODB_URI'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\` (it starts Temporal and FerretDB)`);
  return value;
}

export const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

/** The run's MongoDB URI with a database name of our own. */
export function databaseUri(dbName: string): string {
  const url = new URL(requireEnv('MONGODB_URI'));
  url.pathname = `/${dbName}`;
  return url.toString();
}

/** Connects mongoose to a fresh database; the returned function drops it and disconnects. */
export async function useTestDatabase(prefix = 'sbtest'): Promise<{ uri: string; drop: () => Promise<void> }> {
  const uri = databaseUri(uniqueName(prefix));
  await mongoose.connect(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false });
  await ensureIndexes();
  return {
    uri,
    drop: async () => {
      await mongoose.connection.dropDatabase().catch(() => undefined);
      await mongoose.disconnect();
    },
  };
}

let bundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per test process. */
export const workflowBundle = () => (bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger }));

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** Starts the real worker (real activities) on its own task queue; returns a stop function. */
export async function startTestWorker(taskQueue: string, activityDeps: ActivityDeps = { keys: TEST_KEYS, platforms: platformConfig({ SANDBOX_URL: 'http://127.0.0.1:9' }) }) {
  const connection = await NativeConnection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  const worker = await createSwitchboardWorker({ connection, namespace: 'default', taskQueue, workflowBundle: await workflowBundle(), activityDeps });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

export const testEncryptionKeys = () => generateEncryptionKeys('test1');
/** Encryption keys for this test process. */
export const TEST_KEYS = loadConfig({ MONGODB_URI: 'mongodb://unused/x', ENCRYPTION_KEYS: testEncryptionKeys() }).ENCRYPTION_KEYS;

export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
