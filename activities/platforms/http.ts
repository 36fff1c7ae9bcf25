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

/** How a read (an idempotent GET) is retried inside one call before its error reaches the caller. */
export interface ReadRetry {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Pause before the 2nd, 3rd… attempt (the last entry repeats), ±25 % jitter. */
  delaysMs: number[];
  /** No new attempt starts once this long has passed since the first (keeps heartbeats and callers' timeouts sane). */
  budgetMs: number;
}

/** The default for platform reads: three tries, ~0.3 s and ~1.5 s apart, none started after 30 s. */
export const READ_RETRY: ReadRetry = { attempts: 3, delaysMs: [300, 1500], budgetMs: 30_000 };

/**
 * A platform's 5xx, timeout or dropped connection on one page read would otherwise fail the whole
 * sync attempt and send the channel into backoff; a read is safe to repeat, so a few quick retries
 * here absorb the blips. Rate limits, refused tokens and permanent errors pass through untouched:
 * their waits and states belong to the channel workflow.
 */
export async function retryRead<T>(read: () => Promise<T>, policy: ReadRetry): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const retryable = err instanceof PlatformError && err.classification.kind === 'retryable';
      const base = policy.delaysMs[Math.min(attempt - 1, policy.delaysMs.length - 1)] ?? 0;
      const pause = base * (0.75 + Math.random() * 0.5);
      if (!retryable || attempt >= policy.attempts || Date.now() - started + pause >= policy.budgetMs) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
