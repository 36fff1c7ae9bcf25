// Delivers platform webhooks to the configured callback URL, the way platforms do: the exact
// signed bytes, retried on non-2xx or timeout with the platform's backoff, and optionally
// duplicated, reordered or held back and released as a burst.
import type { Random } from './random';

export interface WebhookRequest {
  platform: string;
  /** What the event is, for the log (e.g. "message", "status", "echo"). */
  kind: string;
  url: string;
  method?: 'POST';
  headers: Record<string, string>;
  /** The exact bytes sent (and signed). */
  body: string;
}

export interface DeliveryAttempt {
  deliveryId: number;
  attempt: number;
  platform: string;
  kind: string;
  url: string;
  at: number;
  status: number | null; // null: no response (timeout / connection error)
  error?: string;
  responseBody?: string;
  durationMs: number;
}

export interface DeliveryOptions {
  /** Extra copies of each delivery (0 = exactly once unless retried). */
  duplicate: number;
  /** Buffer this many deliveries and send them in a shuffled order (0/1 = in order). */
  reorderWindow: number;
  /** Hold deliveries until flush() and then send them all at once. */
  hold: boolean;
  /** Delays between attempts, in ms; attempts = delays.length + 1. */
  retryDelaysMs: number[];
  /** Per-attempt timeout in ms. */
  timeoutMs: number;
}

const DEFAULT_OPTIONS: DeliveryOptions = { duplicate: 0, reorderWindow: 0, hold: false, retryDelaysMs: [1000, 2000, 5000, 10_000, 30_000], timeoutMs: 10_000 };

interface Delivery { id: number; request: WebhookRequest; attempts: number; done: boolean; delivered: boolean }

export class WebhookDispatcher {
  private nextId = 1;
  private readonly log: DeliveryAttempt[] = [];
  private readonly deliveries = new Map<number, Delivery>();
  private readonly held: Delivery[] = [];
  private readonly reorderBuffer = new Map<string, Delivery[]>();
  private readonly options = new Map<string, DeliveryOptions>();
  private readonly targets = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly random: Random, private readonly now: () => number, defaults: Partial<DeliveryOptions> = {}) {
    this.defaults = { ...DEFAULT_OPTIONS, ...defaults };
  }
  private readonly defaults: DeliveryOptions;

  /** Where a platform's webhooks go (our API's endpoint), set by config or the admin API. */
  setTarget(platform: string, url: string | null): void {
    if (url) this.targets.set(platform, url);
    else this.targets.delete(platform);
  }
  target(platform: string): string | undefined {
    return this.targets.get(platform);
  }
  targetsSnapshot(): Record<string, string> {
    return Object.fromEntries(this.targets);
  }

  configure(platform: string, options: Partial<DeliveryOptions>): DeliveryOptions {
    const merged = { ...this.optionsFor(platform), ...options };
    this.options.set(platform, merged);
    return merged;
  }
  optionsFor(platform: string): DeliveryOptions {
    return this.options.get(platform) ?? this.defaults;
  }

  /** Queues a delivery; returns its ID. Duplicates get IDs of their own. */
  send(request: WebhookRequest): number[] {
    const opts = this.optionsFor(request.platform);
    const ids: number[] = [];
    for (let copy = 0; copy <= opts.duplicate; copy++) {
      const delivery: Delivery = { id: this.nextId++, request, attempts: 0, done: false, delivered: false };
      this.deliveries.set(delivery.id, delivery);
      ids.push(delivery.id);
      if (opts.hold) this.held.push(delivery);
      else if (opts.reorderWindow > 1) this.buffer(delivery, opts.reorderWindow);
      else this.attempt(delivery);
    }
    return ids;
  }

  private buffer(delivery: Delivery, window: number) {
    const key = delivery.request.platform;
    const buf = this.reorderBuffer.get(key) ?? [];
    buf.push(delivery);
    this.reorderBuffer.set(key, buf);
    if (buf.length >= window) this.releaseBuffer(key);
    else this.later(() => this.releaseBuffer(key), 200); // never hold a partial window for long
  }

  private releaseBuffer(key: string) {
    const buf = this.reorderBuffer.get(key);
    if (!buf?.length) return;
    this.reorderBuffer.delete(key);
    for (const d of this.random.shuffle(buf)) this.attempt(d);
  }

  /** Releases held deliveries all at once (a burst). */
  flush(platform?: string): number {
    const release = this.held.filter((d) => !platform || d.request.platform === platform);
    for (const d of release) this.held.splice(this.held.indexOf(d), 1);
    for (const d of release) this.attempt(d);
    for (const key of [...this.reorderBuffer.keys()]) if (!platform || key === platform) this.releaseBuffer(key);
    return release.length;
  }

  private later(fn: () => void, ms: number) {
    if (this.closed) return;
    const timer = setTimeout(() => { this.timers.delete(timer); fn(); }, ms);
    this.timers.add(timer);
  }

  private attempt(delivery: Delivery) {
    if (this.closed) return;
    const run = this.post(delivery).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  private async post(delivery: Delivery) {
    const { request } = delivery;
    const opts = this.optionsFor(request.platform);
    delivery.attempts += 1;
    const started = Date.now();
    const entry: DeliveryAttempt = { deliveryId: delivery.id, attempt: delivery.attempts, platform: request.platform, kind: request.kind, url: request.url, at: this.now(), status: null, durationMs: 0 };
    try {
      const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(opts.timeoutMs) });
      entry.status = res.status;
      entry.responseBody = (await res.text()).slice(0, 500);
    } catch (err) {
      entry.error = (err as Error).name === 'TimeoutError' ? `timed out after ${opts.timeoutMs} ms` : (err as Error).message;
    }
    entry.durationMs = Date.now() - started;
    this.log.push(entry);
    if (this.log.length > 100_000) this.log.splice(0, this.log.length - 100_000);

    if (entry.status !== null && entry.status >= 200 && entry.status < 300) {
      delivery.done = true;
      delivery.delivered = true;
      return;
    }
    const delay = opts.retryDelaysMs[delivery.attempts - 1];
    if (delay === undefined) {
      delivery.done = true; // dropped, as platforms do after their retry horizon
      return;
    }
    this.later(() => this.attempt(delivery), delay);
  }

  attempts(filter: { platform?: string; since?: number } = {}): DeliveryAttempt[] {
    return this.log.filter((a) => (!filter.platform || a.platform === filter.platform) && (!filter.since || a.at >= filter.since));
  }

  stats() {
    const all = [...this.deliveries.values()];
    return {
      queued: all.length,
      delivered: all.filter((d) => d.delivered).length,
      dropped: all.filter((d) => d.done && !d.delivered).length,
      pending: all.filter((d) => !d.done).length,
      held: this.held.length,
      attempts: this.log.length,
    };
  }

  /** Resolves when nothing is in flight or waiting for a retry (or after timeoutMs). */
  async idle(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = [...this.deliveries.values()].some((d) => !d.done && !this.held.includes(d));
      if (!pending && this.inFlight.size === 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}
