// Where each platform lives and our app's credentials on it, from the environment. With
// SANDBOX_URL set (npm start, tests), every base URL points at the sandbox under the real host name
// and the app credentials default to the sandbox's registered apps; otherwise the real hosts.
import { DEFAULT_APPS } from '../sandbox/core/apps';
import { PLATFORMS, type Platform } from './domain/channel';
import { NetworkPolicy } from './network-policy';

export interface PlatformConfig {
  meta: { dialogUrl: string; graphUrl: string; graphVersion: string; appId: string; appSecret: string; verifyToken: string };
  instagram: { authorizeUrl: string; apiUrl: string; graphUrl: string; appId: string; appSecret: string };
  whatsapp: { graphUrl: string; graphVersion: string; appSecret: string };
  twilio: { apiUrl: string };
  tiktok: { authorizeUrl: string; openApiUrl: string; businessApiUrl: string; clientKey: string; clientSecret: string };
  google: {
    accountsUrl: string; oauth2Url: string; gmailUrl: string; clientId: string; clientSecret: string; pushToken: string;
    /** The Pub/Sub topic Gmail mailboxes are watched into (users.watch); '' = no push, sync polling only. */
    pubsubTopic: string;
  };
  /**
   * Where adapters may connect to places a tenant chose — media given by URL (attached to an email,
   * uploaded to TikTok) and a mailbox's IMAP/SMTP servers: the public internet, plus our own signed
   * upload links (PUBLIC_URL), the sandbox, and PRIVATE_NETWORK_ALLOWLIST (hosts, addresses or CIDR
   * networks, comma separated; `*` allows any). Outgoing webhook URLs follow it too. Without it an
   * agent could have the worker read an internal address and mail the answer out.
   */
  tenantNetwork: NetworkPolicy;
}

/** The topic `npm start` and the tests watch sandbox mailboxes into. */
const SANDBOX_PUBSUB_TOPIC = 'projects/switchboard/topics/gmail';

export function platformConfig(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const sandbox = env.SANDBOX_URL?.replace(/\/$/, '');
  const host = (name: string) => (sandbox ? `${sandbox}/${name}` : `https://${name}`);
  const pick = (name: string, fallback: string | undefined, what: string): string => {
    const value = env[name] ?? (sandbox ? fallback : undefined);
    return value ?? missing(name, what);
  };
  const graphVersion = env.META_GRAPH_VERSION ?? 'v25.0';
  const hostOf = (url: string | undefined) => { try { return url ? new URL(url).hostname : ''; } catch { return ''; } };
  const tenantNetwork = new NetworkPolicy([...(env.PRIVATE_NETWORK_ALLOWLIST ?? '').split(','), hostOf(env.PUBLIC_URL), hostOf(sandbox)]);
  return {
    tenantNetwork,
    meta: {
      dialogUrl: env.META_DIALOG_URL ?? host('www.facebook.com'),
      graphUrl: env.META_GRAPH_URL ?? host('graph.facebook.com'),
      graphVersion,
      appId: pick('META_APP_ID', DEFAULT_APPS.meta!.id, 'the Meta app ID'),
      appSecret: pick('META_APP_SECRET', DEFAULT_APPS.meta!.secret, 'the Meta app secret'),
      verifyToken: pick('META_VERIFY_TOKEN', DEFAULT_APPS.meta!.extra.verifyToken, 'the webhook verify token typed into the Meta App Dashboard'),
    },
    instagram: {
      authorizeUrl: env.INSTAGRAM_AUTHORIZE_URL ?? host('www.instagram.com'),
      apiUrl: env.INSTAGRAM_API_URL ?? host('api.instagram.com'),
      graphUrl: env.INSTAGRAM_GRAPH_URL ?? host('graph.instagram.com'),
      appId: pick('INSTAGRAM_APP_ID', DEFAULT_APPS.instagram!.id, 'the Instagram app ID'),
      appSecret: pick('INSTAGRAM_APP_SECRET', DEFAULT_APPS.instagram!.secret, 'the Instagram app secret'),
    },
    whatsapp: {
      graphUrl: env.WHATSAPP_GRAPH_URL ?? env.META_GRAPH_URL ?? host('graph.facebook.com'),
      graphVersion,
      appSecret: pick('META_APP_SECRET', DEFAULT_APPS.meta!.secret, 'the Meta app secret'),
    },
    twilio: { apiUrl: env.TWILIO_API_URL ?? host('api.twilio.com') },
    tiktok: {
      authorizeUrl: env.TIKTOK_AUTHORIZE_URL ?? host('www.tiktok.com'),
      openApiUrl: env.TIKTOK_OPEN_API_URL ?? host('open.tiktokapis.com'),
      businessApiUrl: env.TIKTOK_BUSINESS_API_URL ?? host('business-api.tiktok.com'),
      clientKey: pick('TIKTOK_CLIENT_KEY', DEFAULT_APPS.tiktok!.id, 'the TikTok client key'),
      clientSecret: pick('TIKTOK_CLIENT_SECRET', DEFAULT_APPS.tiktok!.secret, 'the TikTok client secret'),
    },
    google: {
      accountsUrl: env.GOOGLE_ACCOUNTS_URL ?? host('accounts.google.com'),
      oauth2Url: env.GOOGLE_OAUTH2_URL ?? host('oauth2.googleapis.com'),
      gmailUrl: env.GMAIL_API_URL ?? host('gmail.googleapis.com'),
      clientId: pick('GOOGLE_CLIENT_ID', DEFAULT_APPS.google!.id, 'the Google OAuth client ID'),
      clientSecret: pick('GOOGLE_CLIENT_SECRET', DEFAULT_APPS.google!.secret, 'the Google OAuth client secret'),
      pushToken: pick('GMAIL_PUSH_TOKEN', DEFAULT_APPS.google!.extra.pushToken, 'the Gmail push token'),
      pubsubTopic: env.GMAIL_PUBSUB_TOPIC ?? (sandbox ? SANDBOX_PUBSUB_TOPIC : ''),
    },
  };
}

function missing(name: string, what: string): never {
  throw new Error(`${name} is required (${what}) unless SANDBOX_URL points at the platform sandbox`);
}

/** The env variable that switches a platform off, e.g. INSTAGRAM_LOGIN_ENABLED=false. */
export const platformFlag = (platform: Platform) => `${platform.toUpperCase()}_ENABLED`;

/** Platforms an operator switched off; their channels cannot be connected (503 with the reason). */
export function disabledPlatforms(env: NodeJS.ProcessEnv = process.env): Set<Platform> {
  return new Set(PLATFORMS.filter((p) => /^(false|0|no|off)$/i.test(env[platformFlag(p)] ?? '')));
}
