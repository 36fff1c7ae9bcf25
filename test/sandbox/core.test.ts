// The sandbox machinery every simulated platform relies on: fault rules, webhook delivery with
// retries/duplicates/reordering/bursts, token lifetimes, the customer generator and the admin API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaultInjector } from '../../sandbox/core/faults';
import { createRandom } from '../../sandbox/core/random';
import { ScenarioRunner } from '../../sandbox/core/scenarios';
import { TokenStore } from '../../sandbox/core/tokens';
import { WebhookDispatcher } from '../../sandbox/core/webhooks';
import type { PlatformModule } from '../../sandbox/platforms/types';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

describe('fault rules', () => {
  it('inject errors at the configured rate, reproducibly for a seed', () => {
    const run = (seed: number) => {
      const faults = new FaultInjector(createRandom(seed));
      faults.add({ platform: 'meta', endpoint: 'send', errorRate: 0.2, errorStatus: 503 });
      return Array.from({ length: 2000 }, () => faults.decide('meta', 'send').kind);
    };
    const kinds = run(7);
    const errors = kinds.filter((k) => k === 'error').length;
    assert.ok(errors > 320 && errors < 480, `about 20% errors expected, got ${errors}/2000`);
    assert.deepEqual(run(7), kinds);
  });

  it('apply only to their platform and endpoint, and expire after `remaining` uses', () => {
    const faults = new FaultInjector(createRandom(1));
    faults.add({ platform: 'meta', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 2 });
    assert.equal(faults.decide('meta', 'token').kind, 'none');
    assert.equal(faults.decide('twilio', 'send').kind, 'none');
    assert.deepEqual(faults.decide('meta', 'send'), { kind: 'rate_limit', retryAfterSeconds: 7, latencyMs: 0 });
    assert.equal(faults.decide('meta', 'send').kind, 'rate_limit');
    assert.equal(faults.decide('meta', 'send').kind, 'none');
    assert.deepEqual(faults.list(), []);
  });
});

describe('tokens', () => {
  it('expire on time, can be revoked and restored, and take TTL overrides', () => {
    let now = 1_000_000;
    const tokens = new TokenStore(() => now);
    const t = tokens.issue({ platform: 'google', kind: 'access', subject: 'u1', scopes: [], prefix: 'ya29.', ttlSeconds: 3600 });
    assert.equal(tokens.state(t), 'valid');
    assert.equal(tokens.expiresIn(t), 3600);
    now += 3600 * 1000;
    assert.equal(tokens.state(t), 'expired');
    tokens.setTtlOverride('google', 'access', 5);
    const short = tokens.issue({ platform: 'google', kind: 'access', subject: 'u1', scopes: [], prefix: 'ya29.', ttlSeconds: 3600 });
    assert.equal(tokens.expiresIn(short), 5);
    assert.equal(tokens.revoke({ subject: 'u1' }, { reason: 'test', code: 190 }), 2);
    assert.equal(tokens.state(short), 'revoked');
    tokens.restore({ token: short.token });
    assert.equal(tokens.state(short), 'valid');
    assert.equal(tokens.state(tokens.get('nope')), 'unknown');
  });
});

describe('webhook delivery', () => {
  const send = (d: WebhookDispatcher, url: string, n: number) =>
    Array.from({ length: n }, (_, i) => d.send({ platform: 'p', kind: 'message', url, headers: { 'content-type': 'application/json', 'x-seq': String(i) }, body: JSON.stringify({ seq: i }) }));

  it('sends the exact bytes and headers, and retries until a 2xx', async () => {
    const receiver = await webhookReceiver((_req, i) => (i < 2 ? 500 : 200));
    const d = new WebhookDispatcher(createRandom(1), Date.now, { retryDelaysMs: [20, 20, 20], timeoutMs: 1000 });
    try {
      d.send({ platform: 'p', kind: 'message', url: `${receiver.url}/hook?x=1`, headers: { 'x-signature': 'sig' }, body: '{"a":"\\u00e4"}' });
      await d.idle();
      assert.equal(receiver.received.length, 3);
      assert.ok(receiver.received.every((r) => r.body === '{"a":"\\u00e4"}' && r.headers['x-signature'] === 'sig' && r.url === '/hook?x=1'));
      assert.deepEqual(d.attempts().map((a) => a.status), [500, 500, 200]);
      assert.deepEqual(d.stats(), { queued: 1, delivered: 1, dropped: 0, pending: 0, held: 0, attempts: 3 });
    } finally {
      await d.close();
      await receiver.close();
    }
  });

  it('gives up after its retry schedule, and counts timeouts as failures', async () => {
    const receiver = await webhookReceiver(async () => { await new Promise((r) => setTimeout(r, 300)); return 200; });
    const d = new WebhookDispatcher(createRandom(1), Date.now, { retryDelaysMs: [10], timeoutMs: 100 });
    try {
      send(d, receiver.url, 1);
      await d.idle();
      assert.deepEqual(d.stats().dropped, 1);
      assert.match(d.attempts()[0]!.error!, /timed out/);
    } finally {
      await d.close();
      await receiver.close();
    }
  });

  it('duplicates, reorders, and holds deliveries for a burst', async () => {
    const receiver = await webhookReceiver();
    const d = new WebhookDispatcher(createRandom(3), Date.now, { retryDelaysMs: [], timeoutMs: 1000 });
    try {
      d.configure('p', { duplicate: 2 });
      send(d, receiver.url, 2);
      await d.idle();
      assert.equal(receiver.received.length, 6);
      assert.deepEqual(receiver.received.map((r) => JSON.parse(r.body).seq).sort(), [0, 0, 0, 1, 1, 1]);

      receiver.received.length = 0;
      d.configure('p', { duplicate: 0, reorderWindow: 20 });
      send(d, receiver.url, 20);
      await d.idle();
      const order = receiver.received.map((r) => JSON.parse(r.body).seq);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
      assert.notDeepEqual(order, Array.from({ length: 20 }, (_, i) => i), 'expected a shuffled order');

      receiver.received.length = 0;
      d.configure('p', { reorderWindow: 0, hold: true });
      send(d, receiver.url, 50);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(receiver.received.length, 0);
      assert.equal(d.flush('p'), 50);
      await d.idle();
      assert.equal(receiver.received.length, 50);
    } finally {
      await d.close();
      await receiver.close();
    }
  });
});

describe('customer generator', () => {
  it('writes the requested number of messages at about the requested rate, cycling customers', async () => {
    const written: string[] = [];
    const platform: PlatformModule = {
      name: 'fake', routes: undefined as never, seed: () => undefined, describe: () => ({}),
      customerWrites: async (input) => { written.push(input.customerId!); return { messageId: `m${written.length}`, accountId: 'a', customerId: input.customerId! }; },
    };
    const runner = new ScenarioRunner(new Map([['fake', platform]]));
    const started = Date.now();
    const state = runner.start({ platform: 'fake', ratePerSecond: 100, count: 50, customers: 5 });
    while (!runner.get(state.id)!.finishedAt) await new Promise((r) => setTimeout(r, 10));
    const elapsed = Date.now() - started;
    assert.equal(written.length, 50);
    assert.equal(new Set(written).size, 5);
    assert.ok(elapsed >= 400, `50 messages at 100/s took only ${elapsed} ms`);
    assert.throws(() => runner.start({ platform: 'nope', ratePerSecond: 1, count: 1 }), /unknown platform/);
  });
});

describe('sandbox admin API', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  before(async () => { sb = await useSandbox({ platforms: [] }); });
  after(async () => { await sb?.close(); });

  it('answers health and lists itself', async () => {
    assert.deepEqual(await (await fetch(`${sb.url}/healthz`)).json(), { status: 'ok' });
    const res = await fetch(`${sb.url}/no/such/route`);
    assert.equal(res.status, 404);
  });

  it('manages fault rules and rejects bad ones with a message', async () => {
    const created = await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 0.5 });
    assert.equal(created.status, 201);
    assert.equal((await sb.admin('GET', '/faults')).json.data.length, 1);
    const bad = await sb.admin('POST', '/faults', { platform: 'meta', errorRate: 2 });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /errorRate/);
    assert.equal((await sb.admin('DELETE', `/faults/${created.json.id}`)).status, 204);
    assert.deepEqual((await sb.admin('GET', '/faults')).json.data, []);
  });

  it('moves the clock forward', async () => {
    const before = sb.sandbox.ctx.now();
    await sb.admin('POST', '/clock', { advanceSeconds: 86_400 });
    assert.ok(sb.sandbox.ctx.now() - before >= 86_400_000);
  });

  it('refuses unknown platforms and malformed JSON', async () => {
    assert.equal((await sb.admin('POST', '/customers/nope/messages', {})).status, 404);
    const res = await fetch(`${sb.url}/__admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(res.status, 400);
  });
});
