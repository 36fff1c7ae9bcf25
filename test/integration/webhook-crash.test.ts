// Crashes on the webhook path, with the API and the worker as real processes killed with SIGKILL:
// - the worker dies in the middle of draining thousands of queued events → after a restart every
//   message is stored exactly once and every unread count is right;
// - the API dies right after acknowledging → what it acknowledged is stored and drained later.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { ConversationModel, MessageModel, WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { freePort, startProcess, type Service } from '../../scripts/stack/processes';
import { eventually, requireEnv, ROOT, testEncryptionKeys, uniqueName, useTestDatabase } from '../helpers/env';
import { useSandbox } from '../helpers/sandbox';

const PAGE = '101000000000001';
const META_SECRET = DEFAULT_APPS.meta!.secret;
const CUSTOMERS = 4;
const PER_CUSTOMER = 1000;

describe('webhook ingestion survives SIGKILL', () => {
  const taskQueue = uniqueName('crash');
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let env: NodeJS.ProcessEnv;
  let apiUrl = '';
  let apiPort = 0;
  let api: Service | undefined;
  let worker: Service | undefined;
  let key = '';
  let channelId = '';
  const logs: string[] = [];

  const start = (name: string, script: string) => startProcess({
    name, command: process.execPath, args: ['--import', 'tsx', script], cwd: ROOT, env,
    onLine: (line) => { logs.push(`${name}: ${line}`); if (logs.length > 2000) logs.shift(); },
  });
  async function startApi() {
    api = start('api', 'api/main.ts');
    await eventually('API ready', async () => (await fetch(`${apiUrl}/readyz`).catch(() => undefined))?.status === 200, 60_000);
  }
  async function startWorker() {
    worker = start('worker', 'workers/main.ts');
    await eventually('worker running', async () => logs.some((l) => l.startsWith('worker:') && l.includes('worker running')), 90_000);
  }
  async function kill(service: Service | undefined) {
    if (!service) return;
    service.child.kill('SIGKILL');
    await service.exited;
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: await res.json() as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  async function deliver(psid: string, mid: string, text: string, timestamp: number) {
    const body = metaJson({ object: 'page', entry: [{ id: PAGE, time: timestamp, messaging: [{ sender: { id: psid }, recipient: { id: PAGE }, timestamp, message: { mid, text } }] }] });
    const res = await fetch(`${apiUrl}/webhooks/meta`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, META_SECRET) } });
    await res.arrayBuffer();
    return res.status;
  }
  /** Posts every event with a few deliveries in flight, as a platform does; all must be acknowledged. */
  async function deliverAll(events: { psid: string; mid: string; text: string; ts: number }[], concurrency = 8) {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < events.length) {
        const e = events[next++]!;
        assert.equal(await deliver(e.psid, e.mid, e.text, e.ts), 200);
      }
    }));
  }
  const storedCount = () => MessageModel.countDocuments({ channelId, direction: 'inbound', text: { $regex: '^crash ' } });

  before(async () => {
    db = await useTestDatabase();
    sb = await useSandbox({ platforms: ['meta'], world: { conversations: 1, messagesPerConversation: 1 } });
    apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    env = {
      ...process.env, MONGODB_URI: db.uri, TEMPORAL_ADDRESS: requireEnv('TEMPORAL_ADDRESS'), TEMPORAL_TASK_QUEUE: taskQueue,
      ENCRYPTION_KEYS: testEncryptionKeys(), SANDBOX_URL: sb.url, API_PORT: String(apiPort), API_HOST: '127.0.0.1', PUBLIC_URL: apiUrl,
      LOG_LEVEL: 'info', LOG_PRETTY: 'false', SYNC_INTERVAL_SECONDS: '3600',
    };
    await sb.admin('POST', '/apps/meta/redirect-uris', { uri: `${apiUrl}/v1/oauth/callback` });
    await Promise.all([startApi(), startWorker()]);
    key = (await createTenantWithAdminKey('Acme')).secret;
    const created = await call('POST', '/v1/channels', { platform: 'messenger', name: 'Shop', settings: { pageId: PAGE } });
    assert.equal(created.status, 201);
    channelId = created.json.channel.id;
    const consent = await fetch(`${created.json.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
    assert.equal((await fetch(consent.headers.get('location')!)).status, 200);
    await eventually('backfill done', async () => (await call('GET', `/v1/channels/${channelId}`)).json.channel.backfill.done, 60_000);
  });
  after(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await sb?.close();
    await db?.drop();
  });

  it('a worker killed mid-drain loses nothing and doubles nothing', async () => {
    // Queue the events while no worker runs, so the drain starts with thousands waiting.
    await kill(worker);
    const base = Date.now() - 3_600_000;
    const events = [];
    for (let c = 0; c < CUSTOMERS; c++) for (let i = 0; i < PER_CUSTOMER; i++) events.push({ psid: `8800${c}`, mid: `m_crash_${c}_${i}`, text: `crash ${c}/${i}`, ts: base + i * 1000 + c });
    await deliverAll(events);
    assert.equal(await WebhookEventModel.countDocuments({ channelId, state: 'pending' }), events.length, 'every acknowledged event is queued');

    await startWorker();
    const atKill = await eventually('the drain under way', async () => { const n = await storedCount(); return n > 0 && n; }, 60_000);
    await kill(worker);
    assert.ok(atKill < events.length, `killed mid-drain (${atKill} of ${events.length} stored)`);

    await startWorker();
    await eventually('every message stored', async () => (await storedCount()) === events.length, 120_000);
    await eventually('queue drained', async () => (await WebhookEventModel.countDocuments({ channelId, state: 'pending' })) === 0, 30_000);
    assert.equal(await storedCount(), events.length, 'nothing doubled');
    for (let c = 0; c < CUSTOMERS; c++) {
      const conv = await ConversationModel.findById(`${channelId}:8800${c}`).lean();
      assert.equal(conv?.unreadCount, PER_CUSTOMER, `customer ${c}: each message counted once`);
      assert.equal(conv?.lastMessagePreview, `crash ${c}/${PER_CUSTOMER - 1}`);
    }
  });

  it('an API killed right after acknowledging loses nothing', async () => {
    await kill(worker); // nothing drains while the API dies: the queue alone must hold the events
    const before = await storedCount();
    const base = Date.now() - 60_000;
    const events = Array.from({ length: 30 }, (_, i) => ({ psid: '88100', mid: `m_apikill_${i}`, text: `crash api ${i}`, ts: base + i }));
    await deliverAll(events.slice(0, -1), 4);
    const last = events[events.length - 1]!;
    assert.equal(await deliver(last.psid, last.mid, last.text, last.ts), 200);
    await kill(api); // at once, after the 2xx
    await Promise.all([startApi(), startWorker()]);
    await eventually('acknowledged events stored', async () => (await storedCount()) === before + events.length, 60_000);
    assert.equal((await ConversationModel.findById(`${channelId}:88100`).lean())?.unreadCount, events.length);
  });
});
