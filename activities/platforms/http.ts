// Plain HTTP for hand-written platform clients: a timeout on every call, network failures as
// retryable PlatformErrors that never echo the URL or request (they may carry tokens), and
// lenient JSON reading (platforms answer HTML or nothing on some errors).
import type { Platform } from '../../lib/domain/channel';
import { PlatformError } from './types';

export async function fetchPlatform(platform: Platform, label: string, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new PlatformError(platform, { kind: 'retryable', message: timeout ? `${label} did not answer in time` : `network error talking to ${label}`, code: timeout ? 'timeout' : 'network' });
  }
}

/** The body as a JSON object, or undefined when it is not one. */
export async function readJsonObject<T extends object = Record<string, unknown>>(res: Response): Promise<T | undefined> {
  const text = await res.text().catch(() => '');
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}
