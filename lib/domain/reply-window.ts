// How long after a customer's last message a business may still write to them, per platform.
// Pure: the send workflow and the API share it.
import type { Platform } from './channel';

const HOUR = 3_600_000;

/** The window in ms, or null when none applies (email; a WhatsApp template). */
export function replyWindowMs(platform: Platform, opts: { template?: boolean; humanAgent?: boolean }): number | null {
  switch (platform) {
    case 'whatsapp_cloud':
    case 'whatsapp_twilio':
      return opts.template ? null : 24 * HOUR;
    case 'messenger':
    case 'instagram':
    case 'instagram_login':
      return opts.humanAgent ? 7 * 24 * HOUR : 24 * HOUR;
    case 'tiktok':
      return 48 * HOUR;
    default:
      return null;
  }
}

/** Why a send cannot go out now, or null when the window is open. */
export function windowClosedReason(platform: Platform, lastInboundAt: number | null, now: number, opts: { template?: boolean; humanAgent?: boolean }): string | null {
  const window = replyWindowMs(platform, opts);
  if (window === null) return null;
  if (lastInboundAt !== null && now - lastInboundAt <= window) return null;
  const hours = window / HOUR;
  const hint = platform.startsWith('whatsapp') ? 'send an approved template instead'
    : platform === 'tiktok' ? 'TikTok has no templates: the customer must write first'
    : opts.humanAgent ? 'the customer must write again' : 'an agent may reply within 7 days with humanAgent: true';
  return `the ${hours} h reply window is closed (${lastInboundAt === null ? 'the customer has not written' : 'the customer last wrote more than that ago'}); ${hint}`;
}
