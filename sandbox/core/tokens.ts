// Every credential the simulated platforms issue: access, page, refresh and app tokens, with
// expiry, scopes and revocation, so clients meet real expiry and re-auth behaviour.
import { randomBytes } from 'node:crypto';

export interface IssuedToken {
  token: string;
  platform: string;
  kind: string; // e.g. user_short, user_long, page, ig_user, refresh, access, twilio_auth
  subject: string; // the account/user the token speaks for
  app?: string;
  scopes: string[];
  issuedAt: number; // ms
  expiresAt: number | null; // ms; null = does not expire
  revoked?: { reason: string; code?: number; subcode?: number };
  /** Set when a rotating refresh token has been used (TikTok, Google may rotate). */
  usedAt?: number;
  meta?: Record<string, unknown>;
}

export type TokenState = 'valid' | 'expired' | 'revoked' | 'unknown';

export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();
  /** Per platform+kind lifetime overrides in seconds (fault injection: "shorten expiry"). */
  private readonly ttlOverrides = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  issue(input: Omit<IssuedToken, 'token' | 'issuedAt' | 'expiresAt'> & { prefix: string; ttlSeconds: number | null }): IssuedToken {
    const override = this.ttlOverrides.get(`${input.platform}:${input.kind}`) ?? this.ttlOverrides.get(`${input.platform}:*`);
    const ttl = override ?? input.ttlSeconds;
    const issuedAt = this.now();
    const { prefix, ttlSeconds: _ttl, ...rest } = input;
    const token: IssuedToken = {
      ...rest,
      token: `${prefix}${randomBytes(24).toString('base64url')}`,
      issuedAt,
      expiresAt: ttl === null ? null : issuedAt + ttl * 1000,
    };
    this.tokens.set(token.token, token);
    return token;
  }

  /** Registers a fixed credential (seeded API keys, auth tokens). */
  put(token: IssuedToken): IssuedToken {
    this.tokens.set(token.token, token);
    return token;
  }

  get(token: string | undefined | null): IssuedToken | undefined {
    return token ? this.tokens.get(token) : undefined;
  }

  state(token: IssuedToken | undefined): TokenState {
    if (!token) return 'unknown';
    if (token.revoked) return 'revoked';
    if (token.expiresAt !== null && token.expiresAt <= this.now()) return 'expired';
    return 'valid';
  }

  /** Seconds until expiry, or null. Rounded to the nearest second, so a token answered in the
   *  same request it was issued in reports exactly its lifetime. */
  expiresIn(token: IssuedToken): number | null {
    return token.expiresAt === null ? null : Math.max(0, Math.round((token.expiresAt - this.now()) / 1000));
  }

  revoke(filter: { token?: string; platform?: string; subject?: string }, reason: IssuedToken['revoked']): number {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (filter.token && t.token !== filter.token) continue;
      if (filter.platform && t.platform !== filter.platform) continue;
      if (filter.subject && t.subject !== filter.subject) continue;
      t.revoked = reason;
      n++;
    }
    return n;
  }

  /** Undoes revocation (a user re-authorizes; used by "revocation and restoration" tests). */
  restore(filter: { token?: string; platform?: string; subject?: string }): number {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (filter.token && t.token !== filter.token) continue;
      if (filter.platform && t.platform !== filter.platform) continue;
      if (filter.subject && t.subject !== filter.subject) continue;
      if (t.revoked) { delete t.revoked; n++; }
    }
    return n;
  }

  /** Makes matching tokens expire `inSeconds` from now (0 = already expired). */
  expire(filter: { token?: string; platform?: string; subject?: string; kind?: string }, inSeconds = 0): number {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (filter.token && t.token !== filter.token) continue;
      if (filter.platform && t.platform !== filter.platform) continue;
      if (filter.subject && t.subject !== filter.subject) continue;
      if (filter.kind && t.kind !== filter.kind) continue;
      t.expiresAt = this.now() + inSeconds * 1000;
      n++;
    }
    return n;
  }

  /** Newly issued tokens of this platform (and kind, or '*') get this lifetime; null clears. */
  setTtlOverride(platform: string, kind: string, seconds: number | null): void {
    const key = `${platform}:${kind}`;
    if (seconds === null) this.ttlOverrides.delete(key);
    else this.ttlOverrides.set(key, seconds);
  }

  list(filter: { platform?: string; subject?: string } = {}): IssuedToken[] {
    return [...this.tokens.values()].filter((t) => (!filter.platform || t.platform === filter.platform) && (!filter.subject || t.subject === filter.subject));
  }
}
