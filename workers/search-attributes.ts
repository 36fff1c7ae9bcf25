// Registers the project's custom search attributes on a Temporal namespace if they are missing.
// The embedded dev server gets them at launch; this covers any other Temporal the worker meets.
import type { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { Logger } from 'pino';
import { SEARCH_ATTRIBUTE_KEYS } from '../lib/domain/search-attributes';

const INDEXED_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export async function ensureSearchAttributes(connection: NativeConnection, namespace: string, log: Logger): Promise<void> {
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !known.has(k.name));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPE[k.type]!])),
    });
    log.info({ added: missing.map((k) => k.name) }, 'registered search attributes');
  } catch (err) {
    const cmd = SEARCH_ATTRIBUTE_KEYS.map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type Keyword`).join('\n');
    log.warn({ err }, `could not register search attributes; register them by hand:\n${cmd}`);
  }
}
