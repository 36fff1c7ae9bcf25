// How fast a channel may send: each platform's documented cap (../shared/platforms/*.md), which a
// channel may lower (or, where the platform grants more on request, raise up to `max`).
import type { Platform } from './channel';

export interface SendRateLimit {
  /** Messages per second when the channel sets nothing. */
  default: number;
  /** The most the platform allows a sender at all. */
  max: number;
  source: string;
}

export const SEND_RATE: Record<Platform, SendRateLimit> = {
  messenger: { default: 300, max: 300, source: 'Messenger: 300 calls/s per Page for text' },
  instagram: { default: 100, max: 300, source: 'Instagram: 300/s (some pages say 100; 100 by default)' },
  instagram_login: { default: 100, max: 300, source: 'Instagram: 300/s (some pages say 100; 100 by default)' },
  whatsapp_cloud: { default: 80, max: 1000, source: 'WhatsApp Cloud: 80 msg/s per business number, upgradable to 1,000' },
  whatsapp_twilio: { default: 10, max: 50, source: 'Twilio WhatsApp: 10 msg/s per sender, up to 50 on request' },
  tiktok: { default: 10, max: 10, source: 'TikTok: unpublished ("sending too fast", 40064); 10/s assumed' },
  gmail: { default: 1, max: 4, source: 'Gmail: messages.send is 100 quota units of 6,000 per user per minute' },
  email: { default: 5, max: 100, source: 'SMTP: set by the provider; 5/s by default' },
};

/** The rate a channel sends at: its own setting if any, else the platform's cap. */
export const sendRateOf = (platform: Platform, configured?: number | null) => configured ?? SEND_RATE[platform].default;

/**
 * The spacing between two send slots at that rate, in milliseconds: a tenth wider than 1000/rate,
 * so that a send starting a little after its slot (SLOT_LATENESS) or reaching the platform a little
 * later than the one before still never puts rate + 1 sends into any one second (rate × 10 % of the spacing = 100 ms).
 */
export const sendIntervalMs = (perSecond: number) => (1000 / perSecond) * 1.1;

/**
 * How late after its slot a send may still start; later, it takes a new slot. A constant well
 * above timer granularity and well below the 100 ms the wider spacing leaves in every second.
 */
export const SLOT_LATENESS_MS = 25;
