// Every webhook endpoint, by path segment: POST /webhooks/<name>.
import type { PlatformConfig } from '../../../lib/platform-config';
import { googleWebhookSource } from './google';
import { metaWebhookSource } from './meta';
import { tiktokWebhookSource } from './tiktok';
import { twilioWebhookSource } from './twilio';
import type { WebhookSecrets, WebhookSource } from './types';
import { whatsappWebhookSource } from './whatsapp';

export const WEBHOOK_SOURCES: ReadonlyMap<string, WebhookSource> = new Map(
  [metaWebhookSource, whatsappWebhookSource, twilioWebhookSource, tiktokWebhookSource, googleWebhookSource].map((s) => [s.name, s]),
);

export function webhookSecrets(platforms: PlatformConfig): WebhookSecrets {
  return {
    metaAppSecrets: [platforms.meta.appSecret, platforms.instagram.appSecret],
    metaVerifyToken: platforms.meta.verifyToken,
    tiktokClientSecret: platforms.tiktok.clientSecret,
    gmailPushToken: platforms.google.pushToken,
  };
}
