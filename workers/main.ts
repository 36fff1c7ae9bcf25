// Worker process: connects to MongoDB and Temporal, then runs workflows and activities until
// SIGINT/SIGTERM, when it finishes in-flight tasks and exits.
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase } from '../lib/db';
import { platformConfig } from '../lib/platform-config';
import { createLogger } from '../lib/logger';
import { connectWithRetry } from '../lib/retry';
import { ensureSearchAttributes } from './search-attributes';
import { createSwitchboardWorker } from './worker';
import { ensureSchedules } from './schedules';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger({ name: 'worker', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => log[PINO_LEVEL[entry.level]]({ sdk: entry.meta }, entry.message)),
  });

  await connectWithRetry('MongoDB', () => connectDatabase(config.MONGODB_URI), { log, maxAttempts: 30 });
  const connection = (await connectWithRetry('Temporal', () => NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }), { log, maxAttempts: 30 }))!;
  await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE, log);
  // A client for the sweep's signals and for creating the schedules.
  const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
  await ensureSchedules(client, { taskQueue: config.TEMPORAL_TASK_QUEUE, reconcileEveryMinutes: config.RECONCILE_INTERVAL_MINUTES, log });

  const worker = await createSwitchboardWorker({
    connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE,
    activityDeps: { keys: config.ENCRYPTION_KEYS, platforms: platformConfig(), temporal: client, publicUrl: config.PUBLIC_URL ?? `http://localhost:${config.API_PORT}` },
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
  });
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE }, 'worker running');
  await worker.run(); // resolves after a shutdown signal, once in-flight tasks are done
  await Promise.all([connection.close(), clientConnection.close()]);
  await mongoose.disconnect();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
