// `npm run sandbox` (and `npm start`): the platform sandbox as its own process.
// SANDBOX_SIZE=100x1000 seeds 100 conversations of 1,000 messages per business account.
import { createLogger } from '../lib/logger';
import { DEFAULT_WORLD, startSandbox } from './sandbox';

async function main() {
  const log = createLogger({ name: 'sandbox', level: process.env.LOG_LEVEL ?? 'info', pretty: (process.env.LOG_PRETTY as 'auto') ?? 'auto' });
  const port = Number(process.env.SANDBOX_PORT ?? 3100);
  const size = process.env.SANDBOX_SIZE?.match(/^(\d+)x(\d+)$/);
  if (process.env.SANDBOX_SIZE && !size) throw new Error('SANDBOX_SIZE must look like 100x1000 (conversations x messages)');
  const sandbox = await startSandbox({
    port,
    host: process.env.SANDBOX_HOST ?? '127.0.0.1',
    log,
    world: size ? { conversations: Number(size[1]), messagesPerConversation: Number(size[2]) } : DEFAULT_WORLD,
    webhookBaseUrl: process.env.SANDBOX_WEBHOOK_BASE_URL,
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'EADDRINUSE' ? `port ${port} is already in use (set SANDBOX_PORT)` : err.message);
  });
  log.info({ platforms: [...sandbox.platforms.keys()] }, `sandbox listening on ${sandbox.url} (admin: ${sandbox.url}/__admin/world)`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`sandbox failed: ${err.message}\n`);
  process.exit(1);
});
