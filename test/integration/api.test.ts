// The API against the real Temporal dev server and FerretDB started for this run, with the real
// worker: API → Temporal → worker → MongoDB.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { ApiKeyModel, ChannelModel, TenantModel } from '../../models';
import { channelStatusQuery } from '../../workflows/channel';
import { createTestApi } from '../helpers/api';
import { eventually, startTestWorker, uniqueName, useTestDatabase } from '../helpers/env';

describe('API on real Temporal and MongoDB', () => {
  const taskQueue = uniqueName('api');
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let api: Awaited<ReturnType<typeof createTestApi>>;
  let adminKey: string;
  let tenantId: string;

  before(async () => {
    db = await useTestDatabase();
    worker = await startTestWorker(taskQueue);
    api = await createTestApi(taskQueue);
    const created = await createTenantWithAdminKey('Acme');
    adminKey = created.secret;
    tenantId = String(created.tenant._id);
  });
  after(async () => {
    await api?.close();
    await worker?.stop();
    await db?.drop();
  });

  it('reports liveness and readiness', async () => {
    assert.deepEqual((await api.call('GET', '/healthz')).json, { status: 'ok' });
    const ready = await api.call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json.checks, { mongodb: 'ok', temporal: 'ok' });
  });

  it('stores API keys only as hashes', async () => {
    const stored = await ApiKeyModel.find({ tenantId }).lean();
    assert.equal(stored.length, 1);
    assert.ok(!JSON.stringify(stored).includes(adminKey));
    assert.match(stored[0]!.hash, /^[0-9a-f]{64}$/);
  });

  it('answers 401 without a key, with a malformed header, and with an unknown key', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: adminKey }, { authorization: 'Bearer sbk_' + 'x'.repeat(43) }]) {
      const res = await api.call('GET', '/v1/channels', { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.json.error.code, 'unauthorized');
    }
  });

  it('starts an OAuth channel in pending_auth with a consent URL, and disconnects it', async () => {
    const res = await api.call('POST', '/v1/channels', { key: adminKey, body: { platform: 'gmail', name: 'Support' } });
    assert.equal(res.status, 201, res.text);
    const { channel, authorizeUrl } = res.json;
    assert.equal(channel.status, 'pending_auth');
    assert.equal(channel.workflowId, `channel:${tenantId}:gmail:${channel.id}`);
    const consent = new URL(authorizeUrl);
    assert.equal(consent.searchParams.get('redirect_uri'), 'http://localhost:3000/v1/oauth/callback');
    assert.ok(consent.searchParams.get('state'));

    const handle = api.temporal.workflow.getHandle(channel.workflowId);
    assert.equal((await handle.query(channelStatusQuery)).status, 'pending_auth');
    const del = await api.call('DELETE', `/v1/channels/${channel.id}`, { key: adminKey });
    assert.equal(del.status, 202);
    await eventually('channel disconnected', async () => (await ChannelModel.findById(channel.id).lean())?.status === 'disconnected');
    assert.equal((await handle.result()).status, 'disconnected');
  });

  it('refuses credentials on an OAuth platform and a credential platform without them', async () => {
    const before = await ChannelModel.countDocuments();
    const a = await api.call('POST', '/v1/channels', { key: adminKey, body: { platform: 'gmail', name: 'x', credentials: { token: 'x' } } });
    assert.equal(a.status, 400);
    assert.match(a.json.error.message, /body\.credentials/);
    const b = await api.call('POST', '/v1/channels', { key: adminKey, body: { platform: 'whatsapp_cloud', name: 'x' } });
    assert.equal(b.status, 400);
    assert.equal(await ChannelModel.countDocuments(), before);
  });

  it('answers 400 naming the field for a bad body, and writes nothing', async () => {
    const before = await ChannelModel.countDocuments();
    const bad = await api.call('POST', '/v1/channels', { key: adminKey, body: { platform: 'fax', name: '' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'validation_failed');
    assert.deepEqual(bad.json.error.details.map((d: { field: string }) => d.field).sort(), ['body.name', 'body.platform']);
    assert.match(bad.json.error.message, /body\.platform/);

    const malformed = await api.call('POST', '/v1/channels', { key: adminKey, rawBody: '{"platform":' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.code, 'invalid_json');
    assert.equal(await ChannelModel.countDocuments(), before);
  });

  it('answers 403 to an agent key on an admin route, and writes nothing', async () => {
    const created = await api.call('POST', '/v1/api-keys', { key: adminKey, body: { name: 'agent desk', role: 'agent' } });
    assert.equal(created.status, 201);
    const agentKey: string = created.json.secret;
    assert.equal(created.json.apiKey.role, 'agent');
    assert.ok(!('hash' in created.json.apiKey));

    const before = await ChannelModel.countDocuments();
    const res = await api.call('POST', '/v1/channels', { key: agentKey, body: { platform: 'email', name: 'Mailbox' } });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.code, 'forbidden');
    assert.equal(await ChannelModel.countDocuments(), before);
    assert.equal((await api.call('POST', '/v1/api-keys', { key: agentKey, body: { name: 'x', role: 'admin' } })).status, 403);
    // Agents can read.
    assert.equal((await api.call('GET', '/v1/channels', { key: agentKey })).status, 200);

    // A revoked key stops working at once.
    assert.equal((await api.call('DELETE', `/v1/api-keys/${created.json.apiKey.id}`, { key: adminKey })).status, 200);
    assert.equal((await api.call('GET', '/v1/channels', { key: agentKey })).status, 401);
  });

  it("keeps tenants apart: another tenant's key sees none of these channels", async () => {
    const other = await createTenantWithAdminKey('Globex');
    const mine = await api.call('GET', '/v1/channels', { key: adminKey });
    assert.ok(mine.json.data.length > 0);
    const theirs = await api.call('GET', '/v1/channels', { key: other.secret });
    assert.deepEqual(theirs.json.data, []);
    const peek = await api.call('GET', `/v1/channels/${mine.json.data[0].id}`, { key: other.secret });
    assert.equal(peek.status, 404);
    assert.equal(await TenantModel.countDocuments(), 2);
  });

  it('pages channel lists with a cursor', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await api.call('POST', '/v1/channels', { key: adminKey, body: { platform: 'gmail', name: `Box ${i}` } })).status, 201);
    }
    const first = await api.call('GET', '/v1/channels?limit=2', { key: adminKey });
    assert.equal(first.json.data.length, 2);
    assert.ok(first.json.nextCursor);
    const second = await api.call('GET', `/v1/channels?limit=2&cursor=${first.json.nextCursor}`, { key: adminKey });
    const ids = [...first.json.data, ...second.json.data].map((c: { id: string }) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal((await api.call('GET', '/v1/channels?limit=0', { key: adminKey })).status, 400);
  });

  it('answers unknown routes with a JSON 404 and documents itself', async () => {
    const res = await api.call('GET', '/v1/nothing-here', { key: adminKey });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'not_found');
    const spec = await api.call('GET', '/openapi.json');
    assert.equal(spec.json.openapi, '3.1.0');
    assert.ok(spec.json.paths['/v1/channels'].post);
    assert.ok(spec.json.components.schemas.Channel);
    const docs = await api.call('GET', '/docs');
    assert.match(docs.text, /swagger-ui-bundle\.js/);
    assert.equal((await api.call('GET', '/docs/assets/swagger-ui-bundle.js')).status, 200);
  });

  it('rejects oversized bodies with 413', async () => {
    const res = await api.call('POST', '/v1/channels', { key: adminKey, rawBody: JSON.stringify({ platform: 'gmail', name: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'payload_too_large');
  });
});

describe('API when Temporal is unreachable', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  let api: Awaited<ReturnType<typeof createTestApi>>;
  before(async () => {
    db = await useTestDatabase();
    api = await createTestApi('unused', { temporalAddress: '127.0.0.1:1' });
  });
  after(async () => {
    await api?.close().catch(() => undefined);
    await db?.drop();
  });

  it('is not ready, and names Temporal', async () => {
    const res = await api.call('GET', '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(res.json.checks, { mongodb: 'ok', temporal: 'unreachable' });
  });

  it('refuses to create a channel without leaving a record behind', async () => {
    const { secret } = await createTenantWithAdminKey('Initech');
    const res = await api.call('POST', '/v1/channels', { key: secret, body: { platform: 'gmail', name: 'Support' } });
    assert.equal(res.status, 503);
    assert.equal(res.json.error.code, 'temporal_unavailable');
    assert.equal(await ChannelModel.countDocuments(), 0);
  });
});

describe('platform switches and capabilities', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  let api: Awaited<ReturnType<typeof createTestApi>>;
  let key: string;
  before(async () => {
    db = await useTestDatabase();
    api = await createTestApi('unused', { env: { TIKTOK_ENABLED: 'false' } });
    key = (await createTenantWithAdminKey('Umbrella')).secret;
  });
  after(async () => {
    await api?.close();
    await db?.drop();
  });

  it('refuses a switched-off platform with 503 naming the switch, and writes nothing', async () => {
    const res = await api.call('POST', '/v1/channels', { key, body: { platform: 'tiktok', name: 'TT' } });
    assert.equal(res.status, 503);
    assert.equal(res.json.error.code, 'platform_disabled');
    assert.match(res.json.error.message, /TIKTOK_ENABLED=false/);
    assert.equal(await ChannelModel.countDocuments(), 0);
  });

  it('says per platform what can be done, and why not', async () => {
    const { data } = (await api.call('GET', '/v1/capabilities', { key })).json;
    const by = Object.fromEntries(data.map((d: { platform: string }) => [d.platform, d]));
    assert.equal(data.length, 8);
    assert.equal(by.tiktok.can_connect, false);
    assert.match(by.tiktok.reason, /TIKTOK_ENABLED/);
    assert.equal(by.messenger.can_connect, true);
    assert.equal(by.messenger.can_read, true);
    assert.equal(by.messenger.oauth, true);
    assert.equal(by.whatsapp_cloud.oauth, false);
    assert.match(by.whatsapp_cloud.reason, /no history API/);
  });
});
