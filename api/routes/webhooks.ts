// Platform webhook endpoints: POST /webhooks/<source> (and /webhooks/twilio/status, where Twilio
// sends status callbacks), GET for Meta's verification handshake. No API key: each delivery is
// authenticated by its platform signature over the raw body (api/webhooks/sources/).
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import type { WebhookIntake } from '../webhooks/intake';
import { newRouter } from '../router';

export function webhookRoutes(deps: { intake: WebhookIntake; publicUrl: string }) {
  const router = newRouter();
  const base = deps.publicUrl.replace(/\/$/, '');

  const receive = async (c: Context<AppEnv>) => {
    const body = Buffer.from(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => { headers[name.toLowerCase()] = value; });
    const reply = await deps.intake.receive(c.req.param('source')!, {
      body, headers, query: Object.fromEntries(url.searchParams),
      // The URL as the platform called it (behind a proxy: PUBLIC_URL), which Twilio signs.
      url: `${base}${url.pathname}${url.search}`,
      receivedAt: Date.now(),
    });
    return c.body(reply.body, reply.status as 200, { 'content-type': reply.contentType });
  };
  router.post('/webhooks/:source', receive);
  router.post('/webhooks/:source/status', receive);
  router.get('/webhooks/:source', (c) => {
    const reply = deps.intake.handshake(c.req.param('source'), Object.fromEntries(new URL(c.req.url).searchParams));
    return c.body(reply.body, reply.status as 200, { 'content-type': reply.contentType });
  });
  return router;
}
