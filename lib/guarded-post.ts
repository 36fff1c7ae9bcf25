// One HTTP(S) POST to a tenant-chosen URL, connecting only where the network policy allows (the
// address is checked as the socket connects — see lib/network-policy.ts). node:http instead of
// fetch because fetch offers no hook between name resolution and connecting.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { NetworkPolicy } from './network-policy';

export interface PostResult { status: number; headers: http.IncomingHttpHeaders }

export class RefusedAddressError extends Error {
  constructor(reason: string) {
    super(`refused: ${reason}`);
    this.name = 'RefusedAddressError';
  }
}

export function guardedPost(url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number; policy: NetworkPolicy }): Promise<PostResult> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An IP literal is never looked up: check it here.
  const literal = isIP(host) ? init.policy.refusal(host, host) : null;
  if (literal) return Promise.reject(new RefusedAddressError(literal));
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const req = client.request(target, {
      method: 'POST', lookup: init.policy.lookup, timeout: init.timeoutMs,
      headers: { ...init.headers, 'content-length': Buffer.byteLength(init.body).toString() },
    }, (res) => {
      res.resume(); // the answer's body is not read: only its status counts
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', reject);
    });
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs} ms`), { name: 'TimeoutError' })), init.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EPRIVATE' ? new RefusedAddressError(err.message.replace(/^refused: /, '')) : err));
    req.end(init.body);
  });
}
