// `npm start`: the whole product on this machine — Temporal dev server (with Web UI), FerretDB,
// the platform sandbox, the worker and the API. State persists under DATA_DIR between runs.
// Ctrl-C / SIGTERM stops every child; if one of them dies, the rest are stopped too.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { generateEncryptionKeys } from '../lib/crypto';
import { assertPortFree, httpOk, startProcess, waitUntil, type Service } from './stack/processes';
import { startFerretDB, startTemporal, waitForWorker } from './stack/services';
import { ROOT } from './stack/tools';

const port = z.coerce.number().int().min(1).max(65535);
const StackEnv = z.object({
  DATA_DIR: z.string().default(path.join(ROOT, '.data')),
  API_PORT: port.default(3000),
  SANDBOX_PORT: port.default(3100),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  FERRETDB_PORT: port.default(27017),
  TEMPORAL_ADDRESS: z.string().optional(),
  MONGODB_URI: z.string().optional(),
});

const COLORS = { temporal: 35, ferretdb: 33, sandbox: 36, worker: 32, api: 34, stack: 37 } as const;
const tty = process.stdout.isTTY;
function printer(name: keyof typeof COLORS) {
  const label = name.padEnd(8);
  const prefix = tty ? `\x1b[${COLORS[name]}m${label}|\x1b[0m ` : `${label}| `;
  return (line: string) => process.stdout.write(`${prefix}${line}\n`);
}
const say = printer('stack');

/** Secrets the embedded stack needs, made once and kept with its data (never in git). */
function devSecrets(dataDir: string): { ENCRYPTION_KEYS: string } {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const secrets = { ENCRYPTION_KEYS: generateEncryptionKeys('dev1') };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function main() {
  const parsed = StackEnv.safeParse(process.env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')} ${i.message}`).join('\n')}`);
  }
  const env = parsed.data;
  const started = Date.now();
  mkdirSync(env.DATA_DIR, { recursive: true });

  // Fail before starting anything if a port we would bind is taken.
  await assertPortFree(env.API_PORT, 'API', 'API_PORT');
  await assertPortFree(env.SANDBOX_PORT, 'platform sandbox', 'SANDBOX_PORT');
  if (!env.TEMPORAL_ADDRESS) {
    await assertPortFree(env.TEMPORAL_PORT, 'Temporal gRPC', 'TEMPORAL_PORT');
    await assertPortFree(env.TEMPORAL_UI_PORT, 'Temporal Web UI', 'TEMPORAL_UI_PORT');
  }
  if (!env.MONGODB_URI) await assertPortFree(env.FERRETDB_PORT, 'FerretDB', 'FERRETDB_PORT');

  const services: Service[] = [];
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say('stopping…');
    // Reverse order: API and worker first, the servers they use last.
    for (const service of [...services].reverse()) await service.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  const watch = (service: Service) => {
    services.push(service);
    void service.exited.then((code) => {
      if (shuttingDown) return;
      say(`${service.name} exited unexpectedly (${code}); stopping the stack`);
      void shutdown(1);
    });
    return service;
  };

  try {
    let temporalAddress = env.TEMPORAL_ADDRESS;
    if (!temporalAddress) {
      say(`starting Temporal dev server (state in ${path.join(env.DATA_DIR, 'temporal.db')})`);
      watch(await startTemporal({ port: env.TEMPORAL_PORT, uiPort: env.TEMPORAL_UI_PORT, dbFile: path.join(env.DATA_DIR, 'temporal.db'), onLine: printer('temporal') }));
      temporalAddress = `127.0.0.1:${env.TEMPORAL_PORT}`;
    }
    let mongodbUri = env.MONGODB_URI;
    if (!mongodbUri) {
      say(`starting FerretDB (state in ${path.join(env.DATA_DIR, 'ferretdb')})`);
      watch(await startFerretDB({ port: env.FERRETDB_PORT, dataDir: path.join(env.DATA_DIR, 'ferretdb'), onLine: printer('ferretdb') }));
      mongodbUri = `mongodb://127.0.0.1:${env.FERRETDB_PORT}/switchboard`;
    }

    const publicUrl = (process.env.PUBLIC_URL ?? `http://localhost:${env.API_PORT}`).replace(/\/$/, '');
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...devSecrets(env.DATA_DIR),
      ...(process.env.ENCRYPTION_KEYS ? { ENCRYPTION_KEYS: process.env.ENCRYPTION_KEYS } : {}),
      TEMPORAL_ADDRESS: temporalAddress,
      MONGODB_URI: mongodbUri,
      API_PORT: String(env.API_PORT),
      SANDBOX_PORT: String(env.SANDBOX_PORT),
      SANDBOX_URL: `http://127.0.0.1:${env.SANDBOX_PORT}`,
      // The address platforms call us at. Twilio signs the exact URL it posts to, so the sandbox
      // delivers webhooks to this same base, as the real platforms would.
      PUBLIC_URL: publicUrl,
      SANDBOX_WEBHOOK_BASE_URL: process.env.SANDBOX_WEBHOOK_BASE_URL ?? `${publicUrl}/webhooks`,
      // Local development: outgoing webhooks may go to a receiver on this machine.
      PRIVATE_NETWORK_ALLOWLIST: process.env.PRIVATE_NETWORK_ALLOWLIST ?? 'localhost,127.0.0.1,::1',
      LOG_PRETTY: process.env.LOG_PRETTY ?? (tty ? 'true' : 'false'),
    };
    const node = (name: 'sandbox' | 'worker' | 'api', entry: string) =>
      watch(startProcess({ name, command: process.execPath, args: ['--import', 'tsx', entry], env: childEnv, cwd: ROOT, onLine: printer(name) }));

    const sandbox = node('sandbox', 'sandbox/main.ts');
    await waitUntil(sandbox, 'the sandbox', () => httpOk(`http://127.0.0.1:${env.SANDBOX_PORT}/healthz`), 60_000);
    const worker = node('worker', 'workers/main.ts');
    const api = node('api', 'api/main.ts');
    await waitUntil(api, 'the API to be ready', () => httpOk(`http://127.0.0.1:${env.API_PORT}/readyz`), 120_000);
    await waitForWorker(worker, temporalAddress, process.env.TEMPORAL_NAMESPACE ?? 'default', process.env.TEMPORAL_TASK_QUEUE ?? 'switchboard');

    const lines = [
      `Switchboard is up (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  API          http://localhost:${env.API_PORT}`,
      `  API docs     http://localhost:${env.API_PORT}/docs`,
      env.TEMPORAL_ADDRESS ? `  Temporal     ${env.TEMPORAL_ADDRESS}` : `  Temporal UI  http://localhost:${env.TEMPORAL_UI_PORT}`,
      `  Sandbox      http://localhost:${env.SANDBOX_PORT}`,
      `  Create a tenant and its admin key:  npm run tenant:create -- --name "Acme"`,
      `  Ctrl-C stops everything.`,
    ];
    for (const line of lines) say(line);
  } catch (err) {
    say(`could not start: ${(err as Error).message}`);
    await shutdown(1);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
