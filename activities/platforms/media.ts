// Media given by URL that an adapter must fetch itself (to attach it to an email, or to upload
// it to a platform that takes no URLs). A 4xx from the URL is permanent (the client gave a bad
// link), a 5xx, 429 or network failure retryable; too large is permanent.
import type { Platform } from '../../lib/domain/channel';
import { guardedGet, RefusedAddressError, TooLargeError } from '../../lib/guarded-http';
import type { NetworkPolicy } from '../../lib/network-policy';
import { PlatformError, type OutboundMessage } from './types';

export interface FetchedMedia { filename: string; content: Buffer; contentType: string }

export async function fetchMedia(platform: Platform, media: NonNullable<OutboundMessage['media']>, opts: { maxBytes: number; limit: string; timeoutMs: number; policy: NetworkPolicy }): Promise<FetchedMedia> {
  const fail = (kind: 'retryable' | 'permanent', message: string, code: string) => new PlatformError(platform, { kind, message, code });
  let res;
  try {
    res = await guardedGet(media.url, { timeoutMs: opts.timeoutMs, maxBytes: opts.maxBytes, policy: opts.policy });
  } catch (err) {
    if (err instanceof RefusedAddressError) throw fail('permanent', `the media URL is not allowed: ${err.message.replace(/^refused: /, '')}`, 'media_url_not_allowed');
    if (err instanceof TooLargeError) throw fail('permanent', `the media exceeds ${opts.limit}`, 'media_too_large');
    const timeout = (err as Error).name === 'TimeoutError';
    throw fail('retryable', timeout ? 'the media URL did not answer in time' : 'network error fetching the media URL', timeout ? 'timeout' : 'network');
  }
  if (res.status < 200 || res.status >= 300) {
    throw fail(res.status >= 500 || res.status === 429 ? 'retryable' : 'permanent', `fetching the media URL failed with HTTP ${res.status}`, 'media_fetch');
  }
  const content = res.body;
  const header = res.headers['content-type'];
  const contentType = (media.mimeType ?? (typeof header === 'string' ? header.split(';')[0] : undefined) ?? 'application/octet-stream').trim().toLowerCase();
  let fromUrl = '';
  try { fromUrl = decodeURIComponent(new URL(media.url).pathname.split('/').pop() ?? ''); } catch { /* an undecodable name: use a generic one */ }
  return { filename: media.name ?? (fromUrl || `attachment.${contentType.split('/')[1] ?? 'bin'}`), content, contentType };
}
