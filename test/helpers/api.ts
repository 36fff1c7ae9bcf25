// An API app wired to the run's real Temporal and MongoDB, called in-process through app.request.
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { serve } from '@hono/node-server';
import { createApp, createWebhookIntake } from '../../api/app';
import { freePort } from '../../scripts/stack/processes';
import { pingDatabase } from '../../lib/db';
import { pingTemporal } from '../../lib/temporal';
import { disabledPlatforms, platformConfig } from '../../lib/platform-config';
import { REDACT_PATHS } from '../../lib/logger';
import { capturedLogs, requireEnv, TEST_KEYS } from './env';

/**
 * `listen: true` also serves the app over real HTTP on a free port (`url`), for callers that cannot
 * use `app.request` — the sandbox delivering webhooks; `publicUrl` is then that address.
 */
export async function createTestApi(taskQueue: string, opts: { temporalAddress?: string; sandboxUrl?: string; syncIntervalSeconds?: number; env?: NodeJS.ProcessEnv; listen?: boolean } = {}) {
  const connection = opts.temporalAddress ? Connection.lazy({ address: opts.temporalAddress }) : await Connection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  const temporal = new Client({ connection });
  const port = opts.listen ? await freePort() : 0;
  const publicUrl = opts.listen ? `http://127.0.0.1:${port}` : 'http://localhost:3000';
  const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (line: string) => { capturedLogs.push(line); } });
  const platforms = platformConfig({ SANDBOX_URL: opts.sandboxUrl ?? 'http://127.0.0.1:9' });
  const intake = createWebhookIntake({ log, temporal, keys: TEST_KEYS, platforms });
  const app = createApp({
    intake,
    // Debug level, captured: tests check that nothing secret is ever logged.
    log,
    temporal,
    taskQueue,
    readiness: { mongodb: () => pingDatabase(), temporal: () => pingTemporal(connection, 1000) },
    keys: TEST_KEYS,
    platforms,
    publicUrl,
    syncIntervalSeconds: opts.syncIntervalSeconds,
    disabledPlatforms: disabledPlatforms(opts.env ?? {}),
  });

  async function call(method: string, path: string, init: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    let body: string | undefined;
    if (init.rawBody !== undefined) body = init.rawBody;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, json, text, headers: res.headers };
  }

  const server = opts.listen ? serve({ fetch: app.fetch, hostname: '127.0.0.1', port }) : undefined;
  async function close() {
    intake.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await connection.close();
  }
  return { app, temporal, call, intake, url: publicUrl, close };
}
