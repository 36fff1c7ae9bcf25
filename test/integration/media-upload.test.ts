// Media by upload, through the real API (over HTTP), worker, Temporal, FerretDB and the sandbox:
// a file uploaded as multipart or as a raw body is sent in a Messenger reply as a signed link to our
// /media route, which serves exactly the uploaded bytes to anyone holding the link and to no one
// else (tampered → 403, expired → 410); Gmail, which fetches media itself, mails the same bytes.
// Too large (413), a type no platform takes (415), another tenant's upload (404, nothing sent).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { mediaLinkKeys, signedMediaUrl } from '../../lib/media-link';
import { MediaChunkModel, MediaModel, MessageModel } from '../../models';
import type { RecordedRequest } from '../../sandbox/core/recorder';
import { connectChannel, connectMessenger } from '../helpers/channels';
import { messageSettled, messengerCustomerWrites } from '../helpers/conversations';
import { capturedLogs, eventually, TEST_KEYS, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';
const MAX = 16 * 1024 * 1024;
/** A PNG signature and random bytes: over two 1 MB chunks, so the bytes are stored and read back in order. */
const IMAGE = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(2 * 1024 * 1024 + 12_345)]);
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(40_000)]);

describe('media by upload', () => {
  const taskQueue = uniqueName('media');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let channelId = '';
  let otherKey = '';

  before(async () => {
    stack = await useInboxStack(taskQueue, {
      sandbox: { platforms: ['meta', 'google'], world: { conversations: 1, messagesPerConversation: 1 } },
      listen: true, redirectUris: ['meta', 'google'], webhookTargets: ['meta'],
    });
    ({ sb, api, key } = stack);
    ({ id: channelId } = await connectMessenger(api, key, PAGE));
    otherKey = (await createTenantWithAdminKey('Other')).secret;
  });
  after(() => stack?.close());

  // ---- the product over real HTTP, as a client (and a platform) uses it ----

  /**
   * One request on a connection of its own: the server closes a connection whose body it refused
   * to read (413, 401), which a pooled client (fetch) would otherwise reuse.
   */
  async function http(method: string, path: string, init: { key?: string; body?: Buffer | FormData; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers };
    let body = init.body as Buffer | undefined;
    if (init.body instanceof FormData) {
      const encoded = new Request('http://localhost/', { method: 'POST', body: init.body });
      body = Buffer.from(await encoded.arrayBuffer());
      headers['content-type'] = encoded.headers.get('content-type')!;
    }
    if (body) headers['content-length'] = String(body.length);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${api.url}${path}`, { method, headers, agent: false }, resolve);
      req.on('error', reject); // after an answer: the server closed while we still wrote (ignored)
      req.end(body);
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try { json = JSON.parse(bytes.toString('utf8')); } catch { json = undefined; }
    const h = new Headers(Object.entries(res.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]])));
    return { status: res.statusCode ?? 0, headers: h, bytes, json, text: bytes.toString('utf8').slice(0, 500) };
  }
  const uploadMultipart = (bytes: Buffer, name: string, type: string, k = key) => {
    const form = new FormData();
    form.set('file', new File([bytes], name, { type }));
    return http('POST', '/v1/media', { key: k, body: form });
  };
  const uploadRaw = (bytes: Buffer, type: string | undefined, name?: string, k = key) =>
    http('POST', `/v1/media${name ? `?name=${encodeURIComponent(name)}` : ''}`, { key: k, body: bytes, headers: type ? { 'content-type': type } : {} });
  const reply = (conversationId: string, body: unknown, idempotencyKey: string, k = key) =>
    api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key: k, body, headers: { 'idempotency-key': idempotencyKey } });
  const stored = async () => ({ media: await MediaModel.countDocuments(), chunks: await MediaChunkModel.countDocuments() });

  /** The Messenger sends the sandbox accepted whose body mentions `marker`. */
  async function metaSends(marker: string): Promise<RecordedRequest[]> {
    const all: RecordedRequest[] = (await sb.admin('GET', '/requests?platform=meta&endpoint=send')).json.data;
    return all.filter((r) => r.status === 200 && !r.fault && r.body.includes(marker));
  }
  const attachmentUrlOf = (r: RecordedRequest): string => (JSON.parse(r.body) as { message: { attachment: { payload: { url: string } } } }).message.attachment.payload.url;

  it('uploads a file as multipart, sends it on Messenger as a signed link that serves exactly its bytes', async () => {
    const up = await uploadMultipart(IMAGE, 'shop front.png', 'image/png');
    assert.equal(up.status, 201, up.text);
    const media = up.json.media;
    assert.match(media.id, /^med_[0-9a-f]{24}$/);
    assert.deepEqual({ name: media.name, mimeType: media.mimeType, size: media.size }, { name: 'shop front.png', mimeType: 'image/png', size: IMAGE.length });
    assert.ok(!Number.isNaN(Date.parse(media.createdAt)));
    const docs = await http('GET', '/openapi.json');
    assert.ok(docs.json.paths['/v1/media'].post && docs.json.paths['/v1/media/{id}'].get, 'documented');
    const meta = await http('GET', `/v1/media/${media.id}`, { key });
    assert.equal(meta.status, 200, meta.text);
    assert.deepEqual(meta.json.media, media);

    const { conversationId } = await messengerCustomerWrites(sb, channelId, PAGE, 'What does the shop look like?');
    const sent = await reply(conversationId, { media: { type: 'image', mediaId: media.id } }, 'img-1');
    assert.equal(sent.status, 202, sent.text);
    assert.deepEqual(sent.json.message.attachments, [{ type: 'image', url: null, mimeType: 'image/png', name: 'shop front.png', mediaId: media.id }]);
    const settled = await messageSettled(api, key, sent.json.message.id);
    assert.ok(['sent', 'delivered', 'read'].includes(settled.status), JSON.stringify(settled));

    // The platform got a link to our /media route, signed, valid for 7 days.
    const sends = await metaSends(media.id);
    assert.equal(sends.length, 1, 'one platform send');
    const link = new URL(attachmentUrlOf(sends[0]!));
    assert.equal(`${link.origin}${link.pathname}`, `${api.url}/media/${media.id}`);
    const exp = Number(link.searchParams.get('exp'));
    assert.ok(Math.abs(exp - (Date.now() / 1000 + 7 * 86_400)) < 300, `expires in 7 days: ${exp}`);
    assert.match(link.searchParams.get('sig') ?? '', /^[0-9a-f]{64}$/);

    // Fetched as the platform does (no API key): the exact bytes, with their type and name.
    const fetched = await http('GET', `${link.pathname}${link.search}`);
    assert.equal(fetched.status, 200, fetched.text);
    assert.equal(fetched.headers.get('content-type'), 'image/png');
    assert.equal(fetched.headers.get('content-length'), String(IMAGE.length));
    assert.match(fetched.headers.get('content-disposition') ?? '', /filename="shop front\.png"/);
    assert.equal(fetched.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(fetched.bytes.equals(IMAGE), 'the same bytes');

    // The message as the agent sees it names the upload, never the link or its signature.
    const view = await api.call('GET', `/v1/messages/${encodeURIComponent(sent.json.message.id)}`, { key });
    assert.deepEqual(view.json.message.attachments, [{ type: 'image', url: null, mimeType: 'image/png', name: 'shop front.png', mediaId: media.id }]);
    const page = await api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key });
    const sig = link.searchParams.get('sig')!;
    assert.ok(!view.text.includes(sig) && !page.text.includes(sig), 'no signature in the API');
    assert.ok(!JSON.stringify(await MessageModel.findById(sent.json.message.id).lean()).includes(sig), 'no signature stored');
    assert.ok(!capturedLogs.some((l) => l.includes(sig)), 'no signature logged');
  });

  it('uploads a raw body with its Content-Type and ?name=, and sends it as a file', async () => {
    const up = await uploadRaw(PDF, 'application/pdf', 'price list.pdf');
    assert.equal(up.status, 201, up.text);
    assert.deepEqual({ name: up.json.media.name, mimeType: up.json.media.mimeType, size: up.json.media.size }, { name: 'price list.pdf', mimeType: 'application/pdf', size: PDF.length });
    // A type nobody gave is taken from the name's extension.
    const guessed = await uploadRaw(PDF, 'application/octet-stream', 'menu.pdf');
    assert.equal(guessed.status, 201, guessed.text);
    assert.equal(guessed.json.media.mimeType, 'application/pdf');

    const { conversationId } = await messengerCustomerWrites(sb, channelId, PAGE, 'Can I see the prices?');
    const sent = await reply(conversationId, { text: 'Here you go', media: { type: 'file', mediaId: up.json.media.id } }, 'pdf-1');
    assert.equal(sent.status, 202, sent.text);
    const settled = await messageSettled(api, key, sent.json.message.id);
    assert.ok(['sent', 'delivered', 'read'].includes(settled.status), JSON.stringify(settled));
    const sends = await metaSends(up.json.media.id);
    assert.equal(sends.length, 1);
    const link = new URL(attachmentUrlOf(sends[0]!));
    const fetched = await http('GET', `${link.pathname}${link.search}`);
    assert.equal(fetched.status, 200, fetched.text);
    assert.equal(fetched.headers.get('content-type'), 'application/pdf');
    assert.match(fetched.headers.get('content-disposition') ?? '', /^attachment; filename="price list\.pdf"/);
    assert.ok(fetched.bytes.equals(PDF), 'the same bytes');
  });

  it('refuses a tampered, missing or expired link, and a link for other media', async () => {
    const media = (await uploadRaw(PDF, 'application/pdf', 'a.pdf')).json.media;
    const other = (await uploadRaw(PDF, 'application/pdf', 'b.pdf')).json.media;
    const keys = mediaLinkKeys(TEST_KEYS);
    const good = new URL(signedMediaUrl(api.url, media.id, keys));
    assert.equal((await http('GET', `${good.pathname}${good.search}`)).status, 200, 'a link we signed works');
    const sig = good.searchParams.get('sig')!;
    const tampered = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    for (const path of [
      `/media/${media.id}?exp=${good.searchParams.get('exp')}&sig=${tampered}`,
      `/media/${media.id}?exp=${Number(good.searchParams.get('exp')) + 3600}&sig=${sig}`,
      `/media/${other.id}${good.search}`,
      `/media/${media.id}`,
      `/media/${media.id}?exp=${good.searchParams.get('exp')}`,
    ]) {
      const res = await http('GET', path);
      assert.equal(res.status, 403, `${path}: ${res.text}`);
      assert.equal(res.json.error.code, 'forbidden');
      assert.ok(!res.bytes.includes(PDF.subarray(0, 64)), 'no bytes');
    }
    const expired = new URL(signedMediaUrl(api.url, media.id, keys, { now: Date.now() - 8 * 86_400_000 }));
    const gone = await http('GET', `${expired.pathname}${expired.search}`);
    assert.equal(gone.status, 410, gone.text);
    assert.equal(gone.json.error.code, 'link_expired');
    assert.match(gone.json.error.message, /expired/);
    // An API key is no substitute for the signature.
    assert.equal((await http('GET', `/media/${media.id}`, { key })).status, 403);
  });

  it('refuses a file over 16 MB with 413 and stores nothing', async () => {
    const before = await stored();
    const raw = await uploadRaw(Buffer.alloc(MAX + 1, 7), 'video/mp4', 'big.mp4');
    assert.equal(raw.status, 413, raw.text);
    assert.equal(raw.json.error.code, 'payload_too_large');
    assert.match(raw.json.error.message, /16 MB/);
    const multipart = await uploadMultipart(Buffer.alloc(MAX + 1, 7), 'big.mp4', 'video/mp4');
    assert.equal(multipart.status, 413, multipart.text);
    assert.match(multipart.json.error.message, /16 MB/);
    // In-process (no Content-Length header: the limit counts the bytes as they arrive).
    const streamed = await api.app.request('/v1/media', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'video/mp4' }, body: Buffer.alloc(MAX + 1, 7) });
    assert.equal(streamed.status, 413);
    assert.deepEqual(await stored(), before, 'nothing stored');
    // Exactly 16 MB is fine, and reads back whole.
    const largest = Buffer.concat([randomBytes(1024), Buffer.alloc(MAX - 1024, 9)]);
    const up = await uploadRaw(largest, 'video/mp4', 'largest.mp4');
    assert.equal(up.status, 201, up.text);
    const link = new URL(signedMediaUrl(api.url, up.json.media.id, mediaLinkKeys(TEST_KEYS)));
    const back = await http('GET', `${link.pathname}${link.search}`);
    assert.equal(back.status, 200);
    assert.ok(back.bytes.equals(largest), 'all 16 MB, in order');
    // The app's 1 MB limit is untouched elsewhere.
    const big = await http('POST', `/v1/conversations/x/messages`, { key, body: Buffer.from(JSON.stringify({ text: 'x'.repeat(1024 * 1024 + 1) })), headers: { 'content-type': 'application/json' } });
    assert.equal(big.status, 413);
  });

  it('refuses types no platform takes, empty files and a missing file field', async () => {
    const before = await stored();
    for (const [type, name] of [['text/html', 'page.html'], ['image/svg+xml', 'logo.svg'], ['application/x-msdownload', 'setup.exe'], ['application/octet-stream', 'blob.bin']]) {
      const raw = await uploadRaw(Buffer.from('<html></html>'), type, name);
      assert.equal(raw.status, 415, `${type}: ${raw.text}`);
      assert.equal(raw.json.error.code, 'unsupported_media_type');
      assert.match(raw.json.error.message, /accepted: image\/\*/);
      const multipart = await uploadMultipart(Buffer.from('<html></html>'), name!, type!);
      assert.equal(multipart.status, 415, `${type} (multipart): ${multipart.text}`);
    }
    assert.equal((await uploadRaw(Buffer.from('x'), undefined)).status, 415, 'no type at all');
    const empty = await uploadRaw(Buffer.alloc(0), 'image/png');
    assert.equal(empty.status, 400, empty.text);
    const form = new FormData();
    form.set('other', 'text');
    const missing = await http('POST', '/v1/media', { key, body: form });
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.json.error.message, /"file"/);
    assert.equal((await http('POST', '/v1/media', { body: PDF, headers: { 'content-type': 'application/pdf' } })).status, 401, 'an API key is needed');
    assert.deepEqual(await stored(), before, 'nothing stored');
  });

  it('keeps uploads to their tenant: another tenant\'s mediaId is 404 and nothing is sent', async () => {
    const theirs = (await uploadRaw(PDF, 'application/pdf', 'theirs.pdf', otherKey)).json.media;
    assert.ok(theirs?.id);
    const metaRes = await http('GET', `/v1/media/${theirs.id}`, { key });
    assert.equal(metaRes.status, 404, metaRes.text);
    assert.equal((await http('GET', '/v1/media/med_000000000000000000000000', { key })).status, 404);

    const { conversationId } = await messengerCustomerWrites(sb, channelId, PAGE, 'Send me their file');
    const messagesBefore = await MessageModel.countDocuments({ conversationId });
    const res = await reply(conversationId, { media: { type: 'file', mediaId: theirs.id } }, 'cross-1');
    assert.equal(res.status, 404, res.text);
    assert.match(res.json.error.message, new RegExp(theirs.id));
    assert.equal(await MessageModel.countDocuments({ conversationId }), messagesBefore, 'no message stored');
    assert.equal((await metaSends(theirs.id)).length, 0, 'nothing sent');

    // Exactly one of url or mediaId; the type must fit the upload.
    const mine = (await uploadRaw(PDF, 'application/pdf', 'mine.pdf')).json.media;
    for (const media of [{ type: 'file' }, { type: 'file', mediaId: mine.id, url: 'https://example.com/x.pdf' }]) {
      const bad = await reply(conversationId, { media }, `bad-${JSON.stringify(media)}`);
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.json.error.message, /exactly one of url or mediaId/);
    }
    const mismatch = await reply(conversationId, { media: { type: 'image', mediaId: mine.id } }, 'mismatch-1');
    assert.equal(mismatch.status, 400, mismatch.text);
    assert.match(mismatch.json.error.message, /application\/pdf/);
  });

  it('Gmail, which fetches media itself, mails the uploaded bytes as the attachment', async () => {
    const up = await uploadMultipart(PDF, 'quote.pdf', 'application/pdf');
    assert.equal(up.status, 201, up.text);
    const { id: gmailId } = await connectChannel(api, key, { platform: 'gmail', approve: 'sandbox_decision=approve' });
    const wrote = await sb.admin('POST', '/customers/google/messages', { customerId: 'zoe@example.com', text: 'Could you send the quote?' });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    await api.call('POST', `/v1/channels/${gmailId}/sync`, { key });
    const question = await eventually('the mail in the inbox', async () => (await MessageModel.findOne({ channelId: gmailId, text: { $regex: 'send the quote' } }).lean()) ?? undefined, 30_000);
    const sent = await reply(String(question.conversationId), { text: 'Attached: mk-gmail-quote', media: { type: 'file', mediaId: up.json.media.id } }, 'gmail-1');
    assert.equal(sent.status, 202, sent.text);
    const settled = await messageSettled(api, key, sent.json.message.id);
    assert.ok(['sent', 'delivered', 'read'].includes(settled.status), JSON.stringify(settled));

    const requests: RecordedRequest[] = (await sb.admin('GET', '/requests?platform=google&endpoint=messages.send')).json.data;
    const mails = requests.filter((r) => r.status < 300 && !r.fault)
      .map((r) => Buffer.from((JSON.parse(r.body) as { raw: string }).raw, 'base64url'))
      .filter((raw) => raw.includes('mk-gmail-quote'));
    assert.equal(mails.length, 1, 'one mail');
    const mail = await simpleParser(mails[0]!);
    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0]!.filename, 'quote.pdf');
    assert.equal(mail.attachments[0]!.contentType, 'application/pdf');
    assert.ok(mail.attachments[0]!.content.equals(PDF), 'the uploaded bytes');
  });
});
