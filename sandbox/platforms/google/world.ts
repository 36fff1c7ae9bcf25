// Google state of one sandbox instance: mailboxes, pending OAuth codes and grants, options, and
// the Gmail push (Pub/Sub push envelope) sent when a watched mailbox changes.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { SandboxContext } from '../../core/context';
import type { HistoryRecord, Mailbox } from './mailbox';

export const PLATFORM = 'google';

export const GMAIL_SCOPES = {
  full: 'https://mail.google.com/',
  readonly: 'https://www.googleapis.com/auth/gmail.readonly',
  send: 'https://www.googleapis.com/auth/gmail.send',
  compose: 'https://www.googleapis.com/auth/gmail.compose',
  modify: 'https://www.googleapis.com/auth/gmail.modify',
  metadata: 'https://www.googleapis.com/auth/gmail.metadata',
  labels: 'https://www.googleapis.com/auth/gmail.labels',
  insert: 'https://www.googleapis.com/auth/gmail.insert',
} as const;

export const KNOWN_SCOPES = [
  ...Object.values(GMAIL_SCOPES), 'openid', 'email', 'profile',
  'https://www.googleapis.com/auth/userinfo.email', 'https://www.googleapis.com/auth/userinfo.profile',
];

export interface GoogleOptions {
  /** Per-user Gmail quota, units per minute (6,000 for projects created on/after 2026-05-01). */
  quotaUnitsPerUserPerMinute: number;
  /** How long history records are kept; older startHistoryIds get 404. */
  historyRetentionSeconds: number;
  accessTtlSeconds: number;
  /** null: refresh tokens do not expire (production apps); 604800 mimics "Testing" apps. */
  refreshTtlSeconds: number | null;
  /** users.watch lifetime. */
  watchTtlSeconds: number;
}

export const DEFAULT_GOOGLE_OPTIONS: GoogleOptions = {
  quotaUnitsPerUserPerMinute: 6000,
  historyRetentionSeconds: 7 * 86400,
  accessTtlSeconds: 3599,
  refreshTtlSeconds: null,
  watchTtlSeconds: 7 * 86400,
};

export interface AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  email: string;
  scopes: string[];
  offline: boolean;
  forceConsent: boolean;
  expiresAt: number;
  used: boolean;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

export class GoogleWorld {
  readonly mailboxes = new Map<string, Mailbox>();
  readonly codes = new Map<string, AuthCode>();
  /** `${clientId} ${email}` → scopes granted so far (include_granted_scopes). */
  readonly grants = new Map<string, Set<string>>();
  private pushSeq = 0;

  constructor(readonly ctx: SandboxContext, readonly options: GoogleOptions) {}

  mailbox(email: string): Mailbox | undefined {
    return this.mailboxes.get(email.toLowerCase());
  }

  /**
   * After a mailbox change: if a watch is active and the change touches its labels, POST the
   * Pub/Sub push envelope to the google webhook target, authenticated with the push token as a
   * `token` query parameter (how a push subscription URL carries a shared secret).
   */
  notify(mailbox: Mailbox, records: HistoryRecord[]): void {
    const watch = mailbox.watch;
    const target = this.ctx.webhooks.target(PLATFORM);
    if (!watch || !target || records.length === 0) return;
    if (watch.expiration <= this.ctx.now()) { mailbox.watch = null; return; }
    const touched = records.flatMap((r) => [
      ...(r.messagesAdded ?? []).map((a) => a.message.labelIds),
      ...(r.labelsAdded ?? []).map((a) => [...a.message.labelIds, ...a.labelIds]),
      ...(r.labelsRemoved ?? []).map((a) => [...a.message.labelIds, ...a.labelIds]),
      ...(r.messagesDeleted ?? []).map((a) => a.message.labelIds),
    ]);
    const matches = watch.labelIds.length === 0 || touched.some((labels) => {
      const hit = labels.some((l) => watch.labelIds.includes(l));
      return watch.labelFilterBehavior === 'include' ? hit : !hit;
    });
    if (!matches) return;
    const data = Buffer.from(JSON.stringify({ emailAddress: mailbox.email, historyId: String(mailbox.historyId) })).toString('base64');
    const body = JSON.stringify({
      message: { data, messageId: String(2_070_443_601_311_540 + ++this.pushSeq), publishTime: new Date(this.ctx.now()).toISOString() },
      subscription: subscriptionFor(watch.topicName),
    });
    const url = new URL(target);
    url.searchParams.set('token', this.ctx.apps.get(PLATFORM).extra.pushToken ?? '');
    this.ctx.webhooks.send({ platform: PLATFORM, kind: 'gmail.push', url: url.toString(), headers: { 'content-type': 'application/json', 'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)' }, body });
  }
}

/** The push subscription of a topic: projects/{p}/topics/{t} → projects/{p}/subscriptions/{t}-push. */
export function subscriptionFor(topicName: string): string {
  const m = /^projects\/([^/]+)\/topics\/([^/]+)$/.exec(topicName);
  return m ? `projects/${m[1]}/subscriptions/${m[2]}-push` : `${topicName}-push`;
}

/** Google's JSON error: {"error":{code, message, errors:[{message, domain, reason}], status}}. */
export function googleError(c: Context, code: number, message: string, reason: string, status: string, domain = 'global', extra: Record<string, string> = {}) {
  return c.json({ error: { code, message, errors: [{ message, domain, reason, ...extra }], status } }, code as ContentfulStatusCode);
}

export function faultStatus(decision: { kind: string; status?: number }): number {
  return decision.kind === 'error' && decision.status ? decision.status : 503;
}

/** Canonical status for an HTTP code in Google's error body. */
export function statusName(code: number): string {
  const names: Record<number, string> = {
    400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ABORTED',
    429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 501: 'NOT_IMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
  };
  return names[code] ?? (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}
