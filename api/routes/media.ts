// Media by upload: POST /v1/media stores a file (multipart field `file`, or the raw body with its
// Content-Type and `?name=`) in the database; a reply then names it (`media: {type, mediaId}`) and
// the send activity hands the platform a signed, expiring link to GET /media/:id (lib/media-link.ts)
// — so every adapter, whether the platform fetches the URL or the adapter does, works unchanged.
import { createHash, randomBytes } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Document } from 'mongodb';
import { Types } from 'mongoose';
import type { EncryptionKey } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { mediaLinkKeys, verifyMediaLink } from '../../lib/media-link';
import { MEDIA_CHUNK_BYTES, MediaChunkModel, MediaModel, mediaChunkId, mediaChunkRange, type Media } from '../../models';
import type { AppEnv } from '../env';
import { errorJson } from '../errors';
import { errorResponses, newRouter } from '../router';

/** The largest file accepted: what WhatsApp takes for video and audio, and under every mail limit. */
export const MEDIA_MAX_BYTES = 16 * 1024 * 1024;
/** Room for a multipart body's boundaries and part headers around a file of MEDIA_MAX_BYTES. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
export const MEDIA_UPLOAD_PATH = '/v1/media';

/** True for the upload route, which has its own body limit instead of the app's 1 MB. */
export const isMediaUpload = (c: Context) => c.req.method === 'POST' && c.req.path === MEDIA_UPLOAD_PATH;

// ---- what a platform can take ----

/** Documents the platforms accept as files (WhatsApp's list is the narrowest). */
const DOCUMENT_TYPES: Record<string, string> = {
  'application/pdf': 'pdf',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'text/plain': 'txt',
  'text/csv': 'csv',
};
/** For files sent without a useful type (application/octet-stream): their extension's. */
const EXTENSION_TYPES: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic',
  mp4: 'video/mp4', mov: 'video/quicktime', '3gp': 'video/3gpp', webm: 'video/webm',
  mp3: 'audio/mpeg', m4a: 'audio/mp4', aac: 'audio/aac', ogg: 'audio/ogg', opus: 'audio/opus', amr: 'audio/amr', wav: 'audio/wav',
  ...Object.fromEntries(Object.entries(DOCUMENT_TYPES).map(([type, ext]) => [ext, type])),
};
const ACCEPTED = 'image/*, video/*, audio/*, application/pdf, Word, Excel, PowerPoint, text/plain or text/csv';

/** Images (but not SVG: it can carry script, and we serve it from our own origin), video, audio, documents. */
export function isAcceptedMediaType(mimeType: string): boolean {
  if (mimeType === 'image/svg+xml') return false;
  return /^(image|video|audio)\/[a-z0-9][\w.+-]*$/.test(mimeType) || mimeType in DOCUMENT_TYPES;
}

/** The MIME type to store: the given one's essence, or the name's extension's when none is useful. */
function mediaTypeOf(given: string | undefined, name: string | undefined): string {
  const essence = (given ?? '').split(';')[0]!.trim().toLowerCase();
  const type = !essence || essence === 'application/octet-stream' ? EXTENSION_TYPES[name?.split('.').pop()?.toLowerCase() ?? ''] : essence;
  if (!type) throw new AppError(415, 'unsupported_media_type', `Give the file's type (Content-Type, or a name with a known extension); accepted: ${ACCEPTED}`);
  if (!isAcceptedMediaType(type)) throw new AppError(415, 'unsupported_media_type', `${type.slice(0, 100)} cannot be sent on the platforms; accepted: ${ACCEPTED}`);
  return type;
}

/** A name safe to store and to put in a header: no directories, no control characters. */
function cleanName(name: string | undefined, mimeType: string): string {
  const base = (name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').split(/[\\/]/).pop()!.trim().slice(0, 200);
  const ext = DOCUMENT_TYPES[mimeType] ?? Object.entries(EXTENSION_TYPES).find(([, t]) => t === mimeType)?.[0] ?? mimeType.split('/')[1]!.replace(/[^\w]/g, '').slice(0, 10);
  return base || `upload.${ext}`;
}

// ---- storage ----

const tooLarge = () => new AppError(413, 'payload_too_large', `The file is larger than ${MEDIA_MAX_BYTES / 1024 / 1024} MB (${MEDIA_MAX_BYTES} bytes)`);

/** The file and what it says about itself; nothing is stored yet. */
async function readUpload(c: Context<AppEnv>, queryName: string | undefined): Promise<{ bytes: Buffer; name: string | undefined; type: string | undefined }> {
  const contentType = c.req.header('content-type');
  if (contentType && /^multipart\/form-data/i.test(contentType)) {
    let form: FormData;
    try {
      form = await c.req.formData();
    } catch {
      throw new AppError(400, 'invalid_multipart', 'The multipart/form-data body could not be read');
    }
    const file = form.get('file');
    if (!file || typeof file === 'string') throw new AppError(400, 'validation_failed', 'body.file: give the file in the multipart field "file"');
    return { bytes: Buffer.from(await file.arrayBuffer()), name: queryName ?? file.name, type: file.type };
  }
  return { bytes: Buffer.from(await c.req.arrayBuffer()), name: queryName, type: contentType };
}

/** Chunks first, metadata last: a media document that exists has every byte. */
async function storeMedia(tenantId: string, bytes: Buffer, name: string, mimeType: string): Promise<Media & { _id: string }> {
  const id = `med_${randomBytes(12).toString('hex')}`;
  const chunks = [];
  for (let offset = 0; offset < bytes.length; offset += MEDIA_CHUNK_BYTES) {
    chunks.push({ _id: mediaChunkId(id, chunks.length), data: bytes.subarray(offset, offset + MEDIA_CHUNK_BYTES) });
  }
  // A few MB per command: far from the wire protocol's message limit on either database.
  for (let i = 0; i < chunks.length; i += 4) await MediaChunkModel.collection.insertMany(chunks.slice(i, i + 4) as unknown as Document[]);
  const doc = {
    _id: id, tenantId: new Types.ObjectId(tenantId), name, mimeType, size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'), chunks: chunks.length, createdAt: new Date(),
  };
  await MediaModel.collection.insertOne(doc as unknown as Document);
  return doc;
}

/** The caller's media, or 404 (also for another tenant's), naming the ID the client gave. */
export async function tenantMedia(tenantId: string, id: string): Promise<Media & { _id: string }> {
  const media = await MediaModel.findById(id).lean<Media & { _id: string }>();
  if (!media || String(media.tenantId) !== tenantId) throw new AppError(404, 'not_found', `Media ${id.slice(0, 100)} not found`);
  return media;
}

// ---- the API ----

const MediaView = z.object({
  id: z.string().openapi({ description: 'Send it with `media: {type, mediaId}`' }), name: z.string(), mimeType: z.string(),
  size: z.number().openapi({ description: 'Bytes' }), sha256: z.string(), createdAt: z.string(),
}).openapi('Media');
const toMediaView = (m: Media & { _id: string }): z.infer<typeof MediaView> => ({
  id: m._id, name: m.name, mimeType: m.mimeType, size: m.size, sha256: m.sha256, createdAt: m.createdAt.toISOString(),
});

const limitError = () => { throw tooLarge(); };
const rawLimit = bodyLimit({ maxSize: MEDIA_MAX_BYTES, onError: limitError });
const multipartLimit = bodyLimit({ maxSize: MEDIA_MAX_BYTES + MULTIPART_OVERHEAD_BYTES, onError: limitError });
/** The upload's own body limit (the app's 1 MB one skips this route: isMediaUpload). */
const uploadLimit: MiddlewareHandler<AppEnv> = (c, next) => (/^multipart\/form-data/i.test(c.req.header('content-type') ?? '') ? multipartLimit(c, next) : rawLimit(c, next));

const security = [{ apiKey: [] }];

export function mediaRoutes() {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'post', path: MEDIA_UPLOAD_PATH, tags: ['inbox'], security,
      summary: `Upload a file to send (up to ${MEDIA_MAX_BYTES / 1024 / 1024} MB): multipart field "file", or the raw body with its Content-Type`,
      middleware: [uploadLimit] as const,
      request: {
        query: z.object({ name: z.string().trim().min(1).max(200).optional().openapi({ description: 'The file name (raw body; overrides a multipart file name)' }) }),
        // Plain OpenAPI schemas: documented, while the body itself is read and checked below.
        body: {
          required: true,
          content: {
            'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] } },
            'application/octet-stream': { schema: { type: 'string', format: 'binary', description: `Any accepted type as the Content-Type: ${ACCEPTED}` } },
          },
        },
      },
      responses: {
        201: { description: 'Stored', content: { 'application/json': { schema: z.object({ media: MediaView }) } } },
        ...errorResponses(400, 401),
        413: { description: `Larger than ${MEDIA_MAX_BYTES} bytes` },
        415: { description: `Not a type the platforms take (${ACCEPTED})` },
      },
    }),
    async (c) => {
      const upload = await readUpload(c, c.req.valid('query').name);
      if (upload.bytes.length > MEDIA_MAX_BYTES) throw tooLarge();
      if (upload.bytes.length === 0) throw new AppError(400, 'empty_file', 'The file is empty');
      const mimeType = mediaTypeOf(upload.type, upload.name);
      const media = await storeMedia(c.get('caller').tenantId, upload.bytes, cleanName(upload.name, mimeType), mimeType);
      c.get('log').info({ mediaId: media._id, size: media.size, mimeType }, 'media uploaded');
      return c.json({ media: toMediaView(media) }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/media/{id}', tags: ['inbox'], summary: 'An uploaded file\'s metadata', security,
      request: { params: z.object({ id: z.string().min(1).max(100) }) },
      responses: { 200: { description: 'The file', content: { 'application/json': { schema: z.object({ media: MediaView }) } } }, ...errorResponses(401, 404) },
    }),
    async (c) => c.json({ media: toMediaView(await tenantMedia(c.get('caller').tenantId, c.req.valid('param').id)) }, 200),
  );
  return router;
}

// ---- the public link platforms fetch ----

/** `filename="…"` (ASCII) and `filename*=` (UTF-8) for any stored name. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** The file's chunks in order, read one batch at a time (never the whole file in memory). */
function mediaStream(media: Media & { _id: string }): ReadableStream<Uint8Array> {
  let cursor: ReturnType<typeof MediaChunkModel.collection.find> | undefined;
  let index = 0;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Opened on the first read: a HEAD request never reads, so never opens one.
      cursor ??= MediaChunkModel.collection.find({ _id: mediaChunkRange(media._id) } as Document).sort({ _id: 1 }).batchSize(2);
      const chunk = await cursor.next();
      if (!chunk) {
        await cursor.close();
        if (sent === media.size) controller.close();
        else controller.error(new Error(`media ${media._id} is incomplete: ${sent} of ${media.size} bytes`));
        return;
      }
      if (chunk._id !== mediaChunkId(media._id, index)) {
        await cursor.close();
        controller.error(new Error(`media ${media._id}: chunk ${index} is missing`));
        return;
      }
      const data = chunk.data as { value(): Uint8Array };
      const bytes = data.value();
      index += 1;
      sent += bytes.length;
      controller.enqueue(bytes);
    },
    async cancel() {
      await cursor?.close();
    },
  });
}

/**
 * GET /media/:id?exp=&sig=: no API key — the signature is the credential (platforms fetch it). A
 * bad or missing signature is 403 and says nothing about whether the media exists; expired is 410.
 */
export function mediaLinkRoutes(deps: { keys: EncryptionKey[] }) {
  const router = newRouter();
  const keys = mediaLinkKeys(deps.keys);
  router.get('/media/:id', async (c) => {
    const id = c.req.param('id');
    const check = verifyMediaLink(id, c.req.query('exp'), c.req.query('sig'), keys);
    if (!check.ok && check.reason === 'expired') return errorJson(c, 410, 'link_expired', 'This media link has expired; send the message again for a new one');
    if (!check.ok) return errorJson(c, 403, 'forbidden', 'This media link is not valid (missing or wrong signature)');
    const media = await MediaModel.findById(id).lean<Media & { _id: string }>();
    if (!media) return errorJson(c, 404, 'not_found', 'Media not found');
    return c.body(mediaStream(media), 200, {
      'content-type': media.mimeType,
      'content-length': String(media.size),
      'content-disposition': contentDisposition(media.name),
      etag: `"${media.sha256}"`,
      // The bytes never change; the link expires on its own.
      'cache-control': 'private, max-age=3600, immutable',
      // Served from the API's origin: never sniffed or run as a page.
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'default-src \'none\'; sandbox',
    });
  });
  return router;
}
