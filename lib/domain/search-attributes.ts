// Custom search attributes the project registers on its Temporal namespace, so operators can filter
// in the Web UI, e.g. `SwitchboardChannelStatus = "reauth_required"`. Values are IDs and states only.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_TENANT = defineSearchAttributeKey('SwitchboardTenant', SearchAttributeType.KEYWORD);
export const SA_PLATFORM = defineSearchAttributeKey('SwitchboardPlatform', SearchAttributeType.KEYWORD);
export const SA_CHANNEL_STATUS = defineSearchAttributeKey('SwitchboardChannelStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [SA_TENANT, SA_PLATFORM, SA_CHANNEL_STATUS];
