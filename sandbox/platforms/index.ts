// Every simulated platform, by the key used in faults, recordings and admin routes.
import type { PlatformFactory } from './types';
// [imports] — one line per platform module, e.g. import { createMetaPlatform } from './meta';
import { createMetaPlatform } from './meta';
import { createGooglePlatform } from './google';
import { createWhatsAppCloudPlatform } from './whatsapp-cloud';
import { createTwilioPlatform } from './twilio';
import { createEmailPlatform } from './email';
import { createTikTokPlatform } from './tiktok';

export const PLATFORM_FACTORIES: Record<string, PlatformFactory> = {
  // [registrations] — one line per platform module, e.g. meta: createMetaPlatform,
  meta: createMetaPlatform,
  google: createGooglePlatform,
  whatsapp: createWhatsAppCloudPlatform,
  twilio: createTwilioPlatform,
  email: createEmailPlatform,
  tiktok: createTikTokPlatform,
};
