// Every platform adapter, by platform. Adapters are created with the platform configuration.
import type { Platform } from '../../lib/domain/channel';
import type { PlatformConfig } from '../../lib/platform-config';
import type { ChannelAdapter } from './types';
// [imports] — one line per adapter module

export type AdapterFactory = (config: PlatformConfig) => ChannelAdapter;

export const ADAPTER_FACTORIES: Partial<Record<Platform, AdapterFactory>> = {
  // [registrations] — one line per platform, e.g. messenger: (c) => new MessengerAdapter(c),
};
