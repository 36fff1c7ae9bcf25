// Worker process: connects to MongoDB and Temporal, then runs workflows and activities until
// SIGINT/SIGTERM, when it finishes in-flight tasks and exits.
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase } from '../lib/db';
import { createLogger } from '../lib/logger';
import { ensureSearchAttributes } from './search-attributes';
import { createSwitchboardWorker } from './worker';
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

  await connectWithRetry(log, 'MongoDB', () => connectDatabase(config.MONGODB_URI));
  const connection = await connectWithRetry(log, 'Temporal', () => NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE, log);

  const worker = await createSwitchboardWorker({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE });
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE }, 'worker running');
  await worker.run(); // resolves after a shutdown signal, once in-flight tasks are done
  await connection.close();
  await mongoose.disconnect();
  log.info('worker stopped');
}

async function connectWithRetry<T>(log: ReturnType<typeof createLogger>, what: string, connect: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (attempt >= 30) throw err;
      log.warn({ err: (err as Error).message, attempt }, `${what} not reachable yet; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5000)));
    }
  }
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
