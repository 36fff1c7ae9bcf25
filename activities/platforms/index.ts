// Every platform adapter, by platform. Adapters are created with the platform configuration.
import type { Platform } from '../../lib/domain/channel';
import type { PlatformConfig } from '../../lib/platform-config';
import type { ChannelAdapter } from './types';
// [imports] — one line per adapter module
import { TikTokAdapter } from './tiktok';
import { GmailAdapter } from './gmail';
import { MessengerAdapter } from './messenger';
import { InstagramAdapter } from './instagram';
import { InstagramLoginAdapter } from './instagram-login';
import { WhatsAppCloudAdapter } from './whatsapp-cloud';
import { WhatsAppTwilioAdapter } from './whatsapp-twilio';
import { EmailAdapter } from './email';

export type AdapterFactory = (config: PlatformConfig) => ChannelAdapter;

export const ADAPTER_FACTORIES: Partial<Record<Platform, AdapterFactory>> = {
  // [registrations] — one line per platform, e.g. messenger: (c) => new MessengerAdapter(c),
  tiktok: (c) => new TikTokAdapter(c),
  gmail: (c) => new GmailAdapter(c),
  messenger: (c) => new MessengerAdapter(c),
  instagram: (c) => new InstagramAdapter(c),
  instagram_login: (c) => new InstagramLoginAdapter(c),
  whatsapp_cloud: (c) => new WhatsAppCloudAdapter(c),
  whatsapp_twilio: (c) => new WhatsAppTwilioAdapter(c),
  email: (c) => new EmailAdapter(c),
};
