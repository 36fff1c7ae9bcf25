// Media given by URL that an adapter must fetch itself (to attach it to an email, or to upload
// it to a platform that takes no URLs). A 4xx from the URL is permanent (the client gave a bad
// link), a 5xx, 429 or network failure retryable; too large is permanent.
import type { Platform } from '../../lib/domain/channel';
import { fetchPlatform } from './http';
import { PlatformError, type OutboundMessage } from './types';

export interface FetchedMedia { filename: string; content: Buffer; contentType: string }

export async function fetchMedia(platform: Platform, media: NonNullable<OutboundMessage['media']>, opts: { maxBytes: number; limit: string; timeoutMs: number }): Promise<FetchedMedia> {
  const fail = (kind: 'retryable' | 'permanent', message: string, code: string) => new PlatformError(platform, { kind, message, code });
  const res = await fetchPlatform(platform, 'the media URL', media.url, { method: 'GET' }, opts.timeoutMs);
  if (!res.ok) {
    await res.body?.cancel();
    throw fail(res.status >= 500 || res.status === 429 ? 'retryable' : 'permanent', `fetching the media URL failed with HTTP ${res.status}`, 'media_fetch');
  }
  if (Number(res.headers.get('content-length') ?? 0) > opts.maxBytes) { await res.body?.cancel(); throw fail('permanent', `the media exceeds ${opts.limit}`, 'media_too_large'); }
  const content = Buffer.from(await res.arrayBuffer());
  if (content.length > opts.maxBytes) throw fail('permanent', `the media exceeds ${opts.limit}`, 'media_too_large');
  const contentType = (media.mimeType ?? res.headers.get('content-type')?.split(';')[0] ?? 'application/octet-stream').trim().toLowerCase();
  let fromUrl = '';
  try { fromUrl = decodeURIComponent(new URL(media.url).pathname.split('/').pop() ?? ''); } catch { /* an undecodable name: use a generic one */ }
  return { filename: media.name ?? (fromUrl || `attachment.${contentType.split('/')[1] ?? 'bin'}`), content, contentType };
}
