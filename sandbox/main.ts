// Platform sandbox process. For now it answers health checks and says which simulators exist;
// the simulators themselves (Meta, WhatsApp, Twilio, TikTok, Google, email) mount here.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createLogger } from '../lib/logger';

const port = Number(process.env.SANDBOX_PORT ?? 3100);
const log = createLogger({ name: 'sandbox', level: process.env.LOG_LEVEL ?? 'info', pretty: (process.env.LOG_PRETTY as 'auto') ?? 'auto' });

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.get('/', (c) => c.json({ name: 'Switchboard platform sandbox', platforms: [] as string[] }));
app.notFound((c) => c.json({ error: { code: 'not_found', message: `No sandbox route for ${c.req.method} ${c.req.path}` } }, 404));

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => log.info(`sandbox listening on http://127.0.0.1:${port}`));
server.on('error', (err: NodeJS.ErrnoException) => {
  log.fatal(err.code === 'EADDRINUSE' ? `port ${port} is already in use (set SANDBOX_PORT)` : String(err));
  process.exit(1);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
