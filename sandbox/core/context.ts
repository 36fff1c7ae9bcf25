// What every simulated platform shares within one sandbox instance. Nothing is global: two
// sandboxes in one process (parallel tests) never see each other's state.
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler, Context as HonoContext } from 'hono';
import type { Logger } from 'pino';
import { AppRegistry } from './apps';
import { FaultInjector, type FaultDecision } from './faults';
import { createRandom, type Random } from './random';
import { Recorder } from './recorder';
import { TokenStore } from './tokens';
import { WebhookDispatcher, type DeliveryOptions } from './webhooks';

export interface SandboxContext {
  /** Sandbox time in ms: real time plus an offset the admin API can advance (windows, expiry). */
  now(): number;
  advanceClock(seconds: number): void;
  random: Random;
  /** Our product's registered apps on each platform (client IDs, secrets, redirect URIs). */
  apps: AppRegistry;
  tokens: TokenStore;
  faults: FaultInjector;
  recorder: Recorder;
  webhooks: WebhookDispatcher;
  /** Base URL of this sandbox as clients reach it (for paging links and media URLs). */
  publicUrl(): string;
  /** A fresh opaque ID with a platform-like prefix. */
  id(prefix?: string, bytes?: number): string;
  log: Logger;
}

export function createContext(opts: { seed: number; log: Logger; publicUrl: () => string; delivery?: Partial<DeliveryOptions>; hangMs?: number }): SandboxContext {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const random = createRandom(opts.seed);
  return {
    now,
    advanceClock: (seconds) => { offsetMs += seconds * 1000; },
    random,
    apps: new AppRegistry(),
    tokens: new TokenStore(now),
    faults: new FaultInjector(random, opts.hangMs),
    recorder: new Recorder(),
    webhooks: new WebhookDispatcher(random, now, opts.delivery),
    publicUrl: opts.publicUrl,
    id: (prefix = '', bytes = 12) => `${prefix}${randomBytes(bytes).toString('base64url')}`,
    log: opts.log,
  };
}

/** Renders an injected fault in the platform's own error format. */
export type FaultRenderer = (c: HonoContext, decision: Exclude<FaultDecision, { kind: 'none' }>) => Response | Promise<Response>;

const SECRET_HEADER = /^(authorization|x-twilio-signature|x-hub-signature(-256)?)$/i;

export interface EndpointSpec {
  /** Platform key (faults, recordings): "meta", "whatsapp", "twilio", "tiktok", "google". */
  platform: string;
  /** Endpoint name for fault rules and recordings, e.g. "send", "oauth.token". */
  name: string;
  renderFault: FaultRenderer;
  /**
   * For paths two platforms share (graph.facebook.com/{id}/messages is Messenger's for a Page ID
   * and WhatsApp's for a phone number ID): return false to leave the request to the next route.
   */
  owns?: (c: HonoContext) => boolean;
}

/**
 * One simulated platform endpoint as a single Hono handler: applies injected latency and faults,
 * records the request (raw body included) and the status it got, then runs `handler` with the raw
 * body. Every simulated route is built with this.
 */
export function route(ctx: SandboxContext, spec: EndpointSpec, handler: (c: HonoContext, rawBody: string) => Response | Promise<Response>): MiddlewareHandler {
  return async (c, next) => {
    if (spec.owns && !spec.owns(c)) return next();
    const body = ['GET', 'HEAD'].includes(c.req.method) ? '' : await c.req.text();
    const decision = ctx.faults.decide(spec.platform, spec.name);
    if (decision.latencyMs > 0) await new Promise((r) => setTimeout(r, decision.latencyMs));
    const url = new URL(c.req.url);
    const record = (status: number, fault?: string) => ctx.recorder.record({
      at: ctx.now(), platform: spec.platform, endpoint: spec.name, method: c.req.method, path: url.pathname,
      query: Object.fromEntries(url.searchParams), body, status, fault,
      headers: Object.fromEntries([...c.req.raw.headers].map(([k, v]) => [k, SECRET_HEADER.test(k) ? `${v.slice(0, 12)}…` : v])),
    });
    if (decision.kind === 'timeout') {
      await new Promise((r) => setTimeout(r, ctx.faults.hangMs));
      record(504, 'timeout');
      return c.text('Gateway Timeout', 504);
    }
    if (decision.kind !== 'none') {
      const res = await spec.renderFault(c, decision);
      record(res.status, decision.kind);
      return res;
    }
    const res = await handler(c, body);
    record(res.status);
    return res;
  };
}
