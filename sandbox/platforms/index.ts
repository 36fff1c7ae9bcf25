// Every simulated platform, by the key used in faults, recordings and admin routes.
import type { PlatformFactory } from './types';
// [imports] — one line per platform module, e.g. import { createMetaPlatform } from './meta';

export const PLATFORM_FACTORIES: Record<string, PlatformFactory> = {
  // [registrations] — one line per platform module, e.g. meta: createMetaPlatform,
};
