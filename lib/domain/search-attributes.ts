// Custom search attributes the project registers on its Temporal namespace, so operators can filter
// in the Web UI or CLI: `temporal workflow list --query "ChannelStatus='reauth_required'"`.
// Values are IDs and states only, never secrets.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_TENANT = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const SA_PLATFORM = defineSearchAttributeKey('Platform', SearchAttributeType.KEYWORD);
export const SA_CHANNEL = defineSearchAttributeKey('ChannelId', SearchAttributeType.KEYWORD);
export const SA_CHANNEL_STATUS = defineSearchAttributeKey('ChannelStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [SA_TENANT, SA_PLATFORM, SA_CHANNEL, SA_CHANNEL_STATUS];
