// The sandbox's own admin API (not a platform's): inject faults, revoke or expire tokens, read
// back every request and webhook delivery, trigger customers, and move the clock.
import { Hono } from 'hono';
import { z } from 'zod';
import type { PlatformModule } from '../platforms/types';
import type { SandboxContext } from './context';
import { FaultRuleSchema } from './faults';
import type { ScenarioRunner } from './scenarios';

const TokenFilter = z.object({ token: z.string().optional(), platform: z.string().optional(), subject: z.string().optional() })
  .refine((f) => f.token || f.platform || f.subject, 'give token, platform or subject');

const DeliveryOptionsSchema = z.object({
  duplicate: z.number().int().min(0).max(10).optional(),
  reorderWindow: z.number().int().min(0).max(1000).optional(),
  hold: z.boolean().optional(),
  retryDelaysMs: z.array(z.number().int().min(0).max(3_600_000)).max(50).optional(),
  timeoutMs: z.number().int().min(1).max(120_000).optional(),
});

export function adminRoutes(ctx: SandboxContext, platforms: Map<string, PlatformModule>, scenarios: ScenarioRunner) {
  const admin = new Hono();

  async function body<T extends z.ZodType>(c: { req: { json(): Promise<unknown> } }, schema: T): Promise<z.infer<T>> {
    let json: unknown;
    try { json = await c.req.json(); } catch { throw new AdminError('request body is not valid JSON'); }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new AdminError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    return parsed.data;
  }
  const platform = (name: string) => {
    const p = platforms.get(name);
    if (!p) throw new AdminError(`unknown platform "${name}" (known: ${[...platforms.keys()].join(', ')})`, 404);
    return p;
  };

  admin.get('/world', (c) => c.json(Object.fromEntries([...platforms].map(([name, p]) => [name, p.describe()]))));

  admin.get('/apps', (c) => c.json(ctx.apps.snapshot()));
  admin.post('/apps/:name/redirect-uris', async (c) => {
    const { uri } = await body(c, z.object({ uri: z.url() }));
    try { ctx.apps.addRedirectUri(c.req.param('name'), uri); } catch (err) { throw new AdminError((err as Error).message, 404); }
    return c.json(ctx.apps.get(c.req.param('name')));
  });

  admin.get('/faults', (c) => c.json({ data: ctx.faults.list() }));
  admin.post('/faults', async (c) => c.json(ctx.faults.add(await body(c, FaultRuleSchema)), 201));
  admin.delete('/faults/:id', (c) => (ctx.faults.remove(Number(c.req.param('id'))) ? c.body(null, 204) : c.json({ error: 'no such fault rule' }, 404)));
  admin.delete('/faults', (c) => { ctx.faults.clear(c.req.query('platform')); return c.body(null, 204); });

  admin.get('/requests', (c) => c.json({ data: ctx.recorder.list({ platform: c.req.query('platform'), endpoint: c.req.query('endpoint'), since: Number(c.req.query('since') ?? 0) || undefined }) }));
  admin.get('/counters', (c) => c.json({ requests: ctx.recorder.snapshot(), webhooks: ctx.webhooks.stats() }));
  admin.post('/reset', (c) => { ctx.recorder.reset(); return c.body(null, 204); });

  admin.get('/webhooks', (c) => c.json({ targets: ctx.webhooks.targetsSnapshot(), stats: ctx.webhooks.stats(), data: ctx.webhooks.attempts({ platform: c.req.query('platform') }) }));
  admin.put('/webhooks/targets/:platform', async (c) => {
    platform(c.req.param('platform'));
    const { url } = await body(c, z.object({ url: z.url().nullable() }));
    ctx.webhooks.setTarget(c.req.param('platform'), url);
    return c.json({ platform: c.req.param('platform'), url });
  });
  admin.put('/webhooks/options/:platform', async (c) => {
    platform(c.req.param('platform'));
    return c.json(ctx.webhooks.configure(c.req.param('platform'), await body(c, DeliveryOptionsSchema)));
  });
  admin.post('/webhooks/flush', (c) => c.json({ released: ctx.webhooks.flush(c.req.query('platform')) }));

  admin.get('/tokens', (c) => c.json({ data: ctx.tokens.list({ platform: c.req.query('platform'), subject: c.req.query('subject') }).map((t) => ({ ...t, state: ctx.tokens.state(t) })) }));
  admin.post('/tokens/revoke', async (c) => {
    const input = await body(c, TokenFilter.and(z.object({ reason: z.string().default('revoked by admin'), code: z.number().int().optional(), subcode: z.number().int().optional() })));
    return c.json({ revoked: ctx.tokens.revoke(input, { reason: input.reason, code: input.code, subcode: input.subcode }) });
  });
  admin.post('/tokens/restore', async (c) => c.json({ restored: ctx.tokens.restore(await body(c, TokenFilter)) }));
  admin.post('/tokens/expire', async (c) => {
    const input = await body(c, TokenFilter.and(z.object({ kind: z.string().optional(), inSeconds: z.number().int().min(0).default(0) })));
    return c.json({ expired: ctx.tokens.expire(input, input.inSeconds) });
  });
  admin.put('/tokens/ttl', async (c) => {
    const input = await body(c, z.object({ platform: z.string(), kind: z.string().default('*'), seconds: z.number().int().min(1).nullable() }));
    ctx.tokens.setTtlOverride(input.platform, input.kind, input.seconds);
    return c.json(input);
  });

  admin.post('/customers/:platform/messages', async (c) => {
    const p = platform(c.req.param('platform'));
    const input = await body(c, z.object({ accountId: z.string().optional(), customerId: z.string().optional(), text: z.string().max(4096).optional(), media: z.boolean().optional() }));
    return c.json(await p.customerWrites(input), 201);
  });
  admin.post('/scenarios', async (c) => {
    const input = await body(c, z.object({
      platform: z.string(), ratePerSecond: z.number().positive().max(10_000), count: z.number().int().min(1).max(10_000_000),
      accountId: z.string().optional(), customers: z.number().int().min(1).max(1_000_000).optional(), media: z.boolean().optional(),
    }));
    platform(input.platform);
    return c.json(scenarios.start(input), 201);
  });
  admin.get('/scenarios', (c) => c.json({ data: scenarios.list() }));
  admin.get('/scenarios/:id', (c) => {
    const s = scenarios.get(Number(c.req.param('id')));
    return s ? c.json(s) : c.json({ error: 'no such scenario' }, 404);
  });
  admin.delete('/scenarios/:id', (c) => {
    const s = scenarios.stop(Number(c.req.param('id')));
    return s ? c.json(s) : c.json({ error: 'no such scenario' }, 404);
  });

  admin.post('/clock', async (c) => {
    const { advanceSeconds } = await body(c, z.object({ advanceSeconds: z.number().min(0).max(10 * 365 * 86400) }));
    ctx.advanceClock(advanceSeconds);
    return c.json({ now: new Date(ctx.now()).toISOString() });
  });

  admin.onError((err, c) => {
    if (err instanceof AdminError) return c.json({ error: err.message }, err.status);
    ctx.log.error({ err }, 'sandbox admin error');
    return c.json({ error: 'internal sandbox error' }, 500);
  });
  return admin;
}

export class AdminError extends Error {
  constructor(message: string, readonly status: 400 | 404 = 400) { super(message); }
}
