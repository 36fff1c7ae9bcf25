// One sandbox instance: every simulated platform on one HTTP port, each under its real host name
// as a path prefix (http://127.0.0.1:3100/graph.facebook.com/v25.0/me/accounts), plus /__admin.
// Instances share nothing, so parallel tests each run their own.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { adminRoutes } from './core/admin';
import { createContext, type SandboxContext } from './core/context';
import { ScenarioRunner } from './core/scenarios';
import type { DeliveryOptions } from './core/webhooks';
import { PLATFORM_FACTORIES } from './platforms';
import type { PlatformModule, SeedOptions } from './platforms/types';

export interface SandboxOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Seed of the fault-injection random source. */
  seed?: number;
  log?: Logger;
  /** History to seed per business account; false seeds accounts and apps only. */
  world?: SeedOptions | false;
  /** Webhooks go to `${webhookBaseUrl}/${platform}` unless a target is set per platform. */
  webhookBaseUrl?: string;
  delivery?: Partial<DeliveryOptions>;
  /** How long an injected timeout hangs (ms). */
  hangMs?: number;
  /** Only these platforms (default: all). */
  platforms?: string[];
}

export interface Sandbox {
  url: string;
  ctx: SandboxContext;
  platforms: Map<string, PlatformModule>;
  app: Hono;
  close(): Promise<void>;
}

export const DEFAULT_WORLD: SeedOptions = { conversations: 3, messagesPerConversation: 5 };

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const log = opts.log ?? pino({ level: 'silent' });
  let url = '';
  const ctx = createContext({ seed: opts.seed ?? 1, log, publicUrl: () => url, delivery: opts.delivery, hangMs: opts.hangMs });

  const platforms = new Map<string, PlatformModule>();
  for (const [name, factory] of Object.entries(PLATFORM_FACTORIES)) {
    if (opts.platforms && !opts.platforms.includes(name)) continue;
    platforms.set(name, await factory(ctx));
  }
  const scenarios = new ScenarioRunner(platforms);

  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/', (c) => c.json({ name: 'Switchboard platform sandbox', platforms: [...platforms.keys()], admin: '/__admin/world' }));
  app.route('/__admin', adminRoutes(ctx, platforms, scenarios));
  for (const p of platforms.values()) app.route('/', p.routes);
  app.notFound((c) => c.json({ error: { message: `No sandbox route for ${c.req.method} ${c.req.path}`, type: 'SandboxNotFound', code: 404 } }, 404));
  app.onError((err, c) => {
    log.error({ err, path: c.req.path }, 'sandbox route failed');
    return c.json({ error: { message: 'sandbox internal error', type: 'SandboxError', code: 500 } }, 500);
  });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host ?? '127.0.0.1', port: opts.port ?? 0 }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  url = `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`;

  if (opts.webhookBaseUrl) for (const name of platforms.keys()) ctx.webhooks.setTarget(name, `${opts.webhookBaseUrl.replace(/\/$/, '')}/${name}`);
  const world = opts.world === undefined ? DEFAULT_WORLD : opts.world;
  for (const p of platforms.values()) await p.seed(world === false ? { conversations: 0, messagesPerConversation: 0 } : world);

  return {
    url,
    ctx,
    platforms,
    app,
    async close() {
      scenarios.close();
      await ctx.webhooks.close();
      for (const p of platforms.values()) await p.close?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
