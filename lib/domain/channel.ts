// The channel vocabulary shared by workflows, models and the API. Pure: no imports, no I/O,
// so workflow code may use it.

export const PLATFORMS = [
  'instagram', // Instagram via Facebook Login (page-linked business account)
  'instagram_login', // Instagram via Instagram Login (no Facebook page)
  'messenger',
  'whatsapp_cloud',
  'whatsapp_twilio',
  'tiktok',
  'gmail',
  'email', // any IMAP/SMTP mailbox
] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * Platforms that push only while the app keeps asking (Gmail users.watch lapses after 7 days): the
 * channel workflow asks at connect and renews daily.
 */
export const PUSH_WATCH_PLATFORMS: readonly Platform[] = ['gmail'];

export const CHANNEL_STATUSES = [
  'pending_auth',
  'active',
  'syncing',
  'degraded',
  'rate_limited',
  'reauth_required',
  'disconnected',
] as const;
export type ChannelStatus = (typeof CHANNEL_STATUSES)[number];

/** The workflow ID reads well in the Temporal Web UI and is derivable from the channel record. */
export const channelWorkflowId = (tenantId: string, platform: Platform, channelId: string) =>
  `channel:${tenantId}:${platform}:${channelId}`;
