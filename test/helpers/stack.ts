// The whole product for an integration test file: a database of its own, a sandbox, the API and the
// real worker on the file's task queue, the sandbox pointed at the API, and a tenant with an admin
// key. One place for the set-up every such file needs and for its tear-down, in the right order.
import type { ActivityDeps } from '../../activities';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { platformConfig } from '../../lib/platform-config';
import type { SandboxOptions } from '../../sandbox/sandbox';
import { createTestApi } from './api';
import { startTestWorker, TEST_KEYS, useTestDatabase } from './env';
import { useSandbox } from './sandbox';

export interface InboxStackOptions {
  /** The sandbox's platforms and seeded world (useSandbox's defaults for the rest). */
  sandbox?: SandboxOptions;
  /** Serve the API over real HTTP, for the sandbox's OAuth redirects and webhooks (see createTestApi). */
  listen?: boolean;
  /** The API's sync interval for new channels; long by default, so only "sync now" syncs. */
  syncIntervalSeconds?: number;
  /** Start the worker before the API; it then has neither the API's Temporal client nor its URL. */
  workerFirst?: boolean;
  /** Give the worker the API's Temporal client (the reconcile sweep and sends signal with it). Default: `listen`. */
  workerTemporal?: boolean;
  /** Give the worker the API's public URL (where Twilio posts statuses). Default: `listen`. */
  workerPublicUrl?: boolean;
  /** More activity dependencies for the worker (outgoing-webhook timings, …). */
  workerDeps?: Partial<ActivityDeps>;
  /** Sandbox apps whose OAuth consent may redirect to the API's callback (needs `listen`). */
  redirectUris?: string[];
  /** Sandbox platforms that deliver their webhooks to the API (needs `listen`). */
  webhookTargets?: string[];
  /** The name of the tenant the file works as; `key` is its admin key. */
  tenant?: string;
}

/** Starts everything; if any step fails, stops what had started and throws. Call `close` in `after`. */
export async function useInboxStack(taskQueue: string, opts: InboxStackOptions = {}) {
  const listen = opts.listen ?? false;
  const linkTemporal = opts.workerTemporal ?? listen;
  const linkUrl = opts.workerPublicUrl ?? listen;
  if (opts.workerFirst && (linkTemporal || linkUrl)) throw new Error('useInboxStack: a worker started first cannot use the API\'s Temporal client or URL');
  if (!listen && (opts.redirectUris?.length || opts.webhookTargets?.length)) throw new Error('useInboxStack: redirect URIs and webhook targets need `listen`');

  let db: Awaited<ReturnType<typeof useTestDatabase>> | undefined;
  let sb: Awaited<ReturnType<typeof useSandbox>> | undefined;
  let api: Awaited<ReturnType<typeof createTestApi>> | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  async function close() {
    await api?.close();
    await worker?.stop();
    await sb?.close();
    await db?.drop();
  }

  try {
    db = await useTestDatabase();
    sb = await useSandbox(opts.sandbox);
    const platforms = platformConfig({ SANDBOX_URL: sb.url });
    const startApi = () => createTestApi(taskQueue, { sandboxUrl: sb!.url, syncIntervalSeconds: opts.syncIntervalSeconds ?? 3600, listen });
    const startWorker = () => startTestWorker(taskQueue, {
      keys: TEST_KEYS, platforms,
      ...(linkTemporal ? { temporal: api!.temporal } : {}),
      ...(linkUrl ? { publicUrl: api!.url } : {}),
      ...opts.workerDeps,
    });
    if (opts.workerFirst) {
      worker = await startWorker();
      api = await startApi();
    } else {
      api = await startApi();
      worker = await startWorker();
    }
    for (const app of opts.redirectUris ?? []) await sb.admin('POST', `/apps/${app}/redirect-uris`, { uri: `${api.url}/v1/oauth/callback` });
    for (const p of opts.webhookTargets ?? []) await sb.admin('PUT', `/webhooks/targets/${p}`, { url: `${api.url}/webhooks/${p}` });
    const tenant = await createTenantWithAdminKey(opts.tenant ?? 'Acme');
    return { db, sb, api, worker, key: tenant.secret, tenantId: tenant.tenant._id, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

export type InboxStack = Awaited<ReturnType<typeof useInboxStack>>;
