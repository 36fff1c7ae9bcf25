// Natural keys, used as `_id`: the same platform object always gets the same document, so writes
// are idempotent inserts, and lookups hit the primary key (the only index FerretDB's SQLite
// backend uses for queries; secondary-index lookups there are full scans).
export const conversationKey = (channelId: string, platformThreadId: string) => `${channelId}:${platformThreadId}`;
export const messageKey = (channelId: string, platformMessageId: string) => `${channelId}:${platformMessageId}`;
export const identityKey = (channelId: string, platformUserId: string) => `${channelId}:${platformUserId}`;
