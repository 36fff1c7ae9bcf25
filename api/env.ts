// Types of the values middleware puts on a request's context.
import type { Logger } from 'pino';
import type { ApiKeyRole } from '../models/api-key';

export interface Caller {
  tenantId: string;
  keyId: string;
  role: ApiKeyRole;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    caller: Caller;
  };
}
