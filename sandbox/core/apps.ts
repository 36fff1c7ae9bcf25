// The developer apps registered on each simulated platform (our product's client credentials),
// with fixed defaults so `npm start` needs no setup. Redirect URIs are compared exactly, as the
// platforms do; the admin API can register more.
export interface SandboxApp {
  /** Client/app ID (Meta app id, TikTok client_key, Google client_id, Twilio Account SID). */
  id: string;
  /** Client/app secret (Meta app secret, TikTok client_secret, Google client_secret, Twilio Auth Token). */
  secret: string;
  redirectUris: string[];
  /** Extra per-platform values (e.g. webhook verify token, Pub/Sub push token). */
  extra: Record<string, string>;
}

const LOCAL_CALLBACKS = ['http://localhost:3000/v1/oauth/callback', 'http://127.0.0.1:3000/v1/oauth/callback'];

export const DEFAULT_APPS: Record<string, SandboxApp> = {
  meta: { id: '100000000000001', secret: 'sandbox-meta-app-secret', redirectUris: [...LOCAL_CALLBACKS], extra: { verifyToken: 'sandbox-meta-verify-token' } },
  instagram: { id: '200000000000002', secret: 'sandbox-instagram-app-secret', redirectUris: [...LOCAL_CALLBACKS], extra: {} },
  twilio: { id: 'AC00000000000000000000000000000001', secret: 'sandbox-twilio-auth-token', redirectUris: [], extra: {} },
  tiktok: { id: 'sbxtiktokclientkey', secret: 'sandbox-tiktok-client-secret', redirectUris: [...LOCAL_CALLBACKS], extra: {} },
  google: { id: '100000000001-sandbox.apps.googleusercontent.com', secret: 'sandbox-google-client-secret', redirectUris: [...LOCAL_CALLBACKS], extra: { pushToken: 'sandbox-gmail-push-token' } },
};

export class AppRegistry {
  private readonly apps = new Map<string, SandboxApp>(Object.entries(structuredClone(DEFAULT_APPS)));

  get(name: string): SandboxApp {
    const app = this.apps.get(name);
    if (!app) throw new Error(`no sandbox app "${name}"`);
    return app;
  }

  /** Finds an app of `name` by its client ID; undefined when the ID is wrong. */
  byId(name: string, id: string | undefined | null): SandboxApp | undefined {
    const app = this.apps.get(name);
    return app && id === app.id ? app : undefined;
  }

  addRedirectUri(name: string, uri: string): void {
    const app = this.get(name);
    if (!app.redirectUris.includes(uri)) app.redirectUris.push(uri);
  }

  snapshot(): Record<string, SandboxApp> {
    return Object.fromEntries(this.apps);
  }
}
