// HTTP(S) to URLs a tenant chose (outgoing webhooks, media to attach), connecting only where the
// network policy allows: the address is checked as the socket connects (lib/network-policy.ts).
// node:http instead of fetch because fetch offers no hook between name resolution and connecting.
// Redirects are never followed (a redirect could point anywhere).
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { NetworkPolicy } from './network-policy';

export class RefusedAddressError extends Error {
  constructor(reason: string) {
    super(`refused: ${reason}`);
    this.name = 'RefusedAddressError';
  }
}

export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the body exceeds ${maxBytes} bytes`);
    this.name = 'TooLargeError';
  }
}

export interface GuardedResponse { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** `maxBytes`: keep the answer's body up to this size (TooLargeError beyond); absent: read and drop it. */
interface RequestInit { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs: number; policy: NetworkPolicy; maxBytes?: number }

function guardedRequest(url: string, init: RequestInit): Promise<GuardedResponse> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An IP literal is never looked up: check it here.
  const literal = isIP(host) ? init.policy.refusal(host, host) : null;
  if (literal) return Promise.reject(new RefusedAddressError(literal));
  const client = target.protocol === 'https:' ? https : http;
  const { maxBytes } = init;
  const timedOut = () => Object.assign(new Error(`no answer within ${init.timeoutMs} ms`), { name: 'TimeoutError' });
  return new Promise<GuardedResponse>((resolve, reject) => {
    const headers = { ...init.headers, ...(init.body !== undefined ? { 'content-length': Buffer.byteLength(init.body).toString() } : {}) };
    const req = client.request(target, { method: init.method, headers, lookup: init.policy.lookup, timeout: init.timeoutMs }, (res) => {
      res.on('error', reject);
      if (maxBytes !== undefined && Number(res.headers['content-length'] ?? 0) > maxBytes) { res.destroy(new TooLargeError(maxBytes)); return; }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (maxBytes === undefined) return;
        size += chunk.length;
        if (size > maxBytes) res.destroy(new TooLargeError(maxBytes));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    const deadline = setTimeout(() => req.destroy(timedOut()), init.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(timedOut()));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EPRIVATE' ? new RefusedAddressError(err.message.replace(/^refused: /, '')) : err));
    req.end(init.body);
  });
}

/** One POST; only the answer's status and headers count (its body is read and dropped). */
export function guardedPost(url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number; policy: NetworkPolicy }): Promise<GuardedResponse> {
  return guardedRequest(url, { method: 'POST', ...init });
}

/** One GET whose body is read up to `maxBytes` (TooLargeError beyond). */
export function guardedGet(url: string, init: { timeoutMs: number; maxBytes: number; policy: NetworkPolicy }): Promise<GuardedResponse> {
  return guardedRequest(url, { method: 'GET', ...init });
}
