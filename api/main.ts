// API process: serves HTTP at once (so /healthz and /readyz answer while dependencies come up),
// connects to MongoDB in the background, and shuts down cleanly on SIGINT/SIGTERM.
import { serve } from '@hono/node-server';
import mongoose from 'mongoose';
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase, pingDatabase } from '../lib/db';
import { createLogger } from '../lib/logger';
import { disabledPlatforms, platformConfig } from '../lib/platform-config';
import { connectWithRetry } from '../lib/retry';
import { createTemporalClient, pingTemporal } from '../lib/temporal';
import { createApp, createWebhookIntake } from './app';

const config = loadConfigOrExit();
const log = createLogger({ name: 'api', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const temporal = createTemporalClient(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);

const platforms = platformConfig();
const intake = createWebhookIntake({ log, temporal: temporal.client, keys: config.ENCRYPTION_KEYS, platforms });
const app = createApp({
  log,
  intake,
  temporal: temporal.client,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  readiness: { mongodb: () => pingDatabase(), temporal: () => pingTemporal(temporal.connection) },
  keys: config.ENCRYPTION_KEYS,
  platforms,
  publicUrl: config.PUBLIC_URL ?? `http://localhost:${config.API_PORT}`,
  syncIntervalSeconds: config.SYNC_INTERVAL_SECONDS,
  disabledPlatforms: disabledPlatforms(),
});

let stopping = false;
// Serve at once; /readyz reports MongoDB unreachable until this connects.
void connectWithRetry('MongoDB', () => connectDatabase(config.MONGODB_URI), { log, stopped: () => stopping })
  .then(async (db) => {
    if (!db) return;
    log.info('connected to MongoDB');
    // A previous process may have stored events and died before waking their workflows.
    const woken = await intake.wakePending().catch((err) => { log.warn({ err: (err as Error).message }, 'could not wake channels with queued webhook events'); return 0; });
    if (woken > 0) log.info({ channels: woken }, 'woke channels with queued webhook events');
  });

const server = serve({ fetch: app.fetch, hostname: config.API_HOST, port: config.API_PORT }, (info) => {
  log.info({ port: info.port }, `API listening on http://localhost:${info.port}`);
});
server.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EADDRINUSE') log.fatal(`port ${config.API_PORT} is already in use (set API_PORT to another port)`);
  else log.fatal({ err }, 'API server failed');
  process.exit(1);
});

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  server.close();
  await Promise.allSettled([mongoose.disconnect(), temporal.connection.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
