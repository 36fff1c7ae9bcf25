// Which channel a webhook belongs to, by the platform account it was addressed to. Looked up once
// and cached briefly: a busy number sends hundreds of deliveries a second, and each must not cost
// a query. A miss — or an account whose channels are all disconnected, whose events are held — is
// cached for less time, so a channel connected (again) a moment ago is found soon.
import type { Platform } from '../../lib/domain/channel';
import { unseal, type EncryptionKey } from '../../lib/crypto';
import { ChannelModel } from '../../models';
import type { Credentials } from '../../activities/platforms/types';
import type { AccountRef } from './sources/types';

export interface ChannelTarget {
  channelId: string;
  tenantId: string;
  workflowId: string;
  platform: Platform;
  /** Disconnected channels keep their events (held) but nothing applies them. */
  disconnected: boolean;
}

interface Cached<T> { value: Promise<T>; expires: number }

export class ChannelDirectory {
  private readonly targets = new Map<string, Cached<ChannelTarget[]>>();
  private readonly secrets = new Map<string, Cached<Credentials[]>>();

  constructor(private readonly opts: { keys: EncryptionKey[]; ttlMs?: number; missTtlMs?: number; now?: () => number }) {}

  /** The channels speaking for this account (usually one; the same Page may be connected by two tenants). */
  resolve(account: AccountRef): Promise<ChannelTarget[]> {
    const key = `${[...account.platforms].sort().join(',')}|${account.accountId}`;
    return this.cached(this.targets, key, async () => {
      const found = await ChannelModel.find({ platform: { $in: account.platforms }, 'account.id': account.accountId }, { tenantId: 1, platform: 1, workflowId: 1, status: 1 }).lean();
      return found.map((c) => ({ channelId: String(c._id), tenantId: String(c.tenantId), workflowId: c.workflowId, platform: c.platform, disconnected: c.status === 'disconnected' }));
    }, (v) => v.some((t) => !t.disconnected));
  }

  /** Unsealed credentials of the connected channels for an account (Twilio signs with the account's auth token). */
  credentials(platform: Platform, accountId: string): Promise<Credentials[]> {
    return this.cached(this.secrets, `${platform}|${accountId}`, async () => {
      const found = await ChannelModel.find({ platform, 'account.id': accountId, status: { $ne: 'disconnected' } }).select('+credentials').lean();
      return found.flatMap((c) => (c.credentials ? [JSON.parse(unseal(c.credentials, this.opts.keys)) as Credentials] : []));
    }, (v) => v.length > 0);
  }

  /** Forget everything (a channel was connected or disconnected through this process). */
  clear(): void {
    this.targets.clear();
    this.secrets.clear();
  }

  private cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>, found: (v: T) => boolean): Promise<T> {
    const now = (this.opts.now ?? Date.now)();
    const hit = map.get(key);
    if (hit && hit.expires > now) return hit.value;
    // The promise itself is cached, so a burst of deliveries for a new account makes one query.
    const value = load();
    const entry: Cached<T> = { value, expires: now + (this.opts.missTtlMs ?? 5_000) };
    map.set(key, entry);
    value.then(
      (v) => { if (found(v)) entry.expires = (this.opts.now ?? Date.now)() + (this.opts.ttlMs ?? 30_000); },
      () => { if (map.get(key) === entry) map.delete(key); },
    );
    if (map.size > 50_000) map.delete(map.keys().next().value!);
    return value;
  }
}
