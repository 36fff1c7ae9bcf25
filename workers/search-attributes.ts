// Registers the project's custom search attributes on a Temporal namespace if they are missing.
// The embedded dev server gets them at launch; this covers any other Temporal the worker meets.
import { temporal } from '@temporalio/proto';
import type { Logger } from 'pino';
import { SEARCH_ATTRIBUTE_KEYS } from '../lib/domain/search-attributes';

const ALREADY_EXISTS = 6; // gRPC status

const INDEXED_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Any Temporal connection (client or worker) exposes the operator service. */
type WithOperatorService = { operatorService: temporal.api.operatorservice.v1.OperatorService };

export async function ensureSearchAttributes(connection: WithOperatorService, namespace: string, log: Pick<Logger, 'info' | 'warn'>): Promise<void> {
  try {
    // Some servers (the time-skipping test server) cannot list; then add all and accept "exists".
    const existing = await connection.operatorService.listSearchAttributes({ namespace }).catch(() => undefined);
    const known = new Set(Object.keys(existing?.customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTE_KEYS.filter((k) => !known.has(k.name));
    for (const key of missing) {
      try {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [key.name]: INDEXED_TYPE[key.type]! } });
        log.info({ name: key.name }, 'registered search attribute');
      } catch (err) {
        if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
      }
    }
  } catch (err) {
    const cmd = SEARCH_ATTRIBUTE_KEYS.map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type Keyword`).join('\n');
    log.warn({ err }, `could not register search attributes; register them by hand:\n${cmd}`);
  }
}
