// The Temporal client used by the API (and scripts). Lazy: the API starts and answers /readyz
// with 503 while Temporal is down, and connects as soon as it is up.
import { Client, Connection } from '@temporalio/client';

export interface TemporalHandle { client: Client; connection: Connection }

export function createTemporalClient(address: string, namespace: string): TemporalHandle {
  const connection = Connection.lazy({ address });
  return { connection, client: new Client({ connection, namespace }) };
}

/** True when the Temporal frontend answers within `timeoutMs`. */
export async function pingTemporal(connection: Connection, timeoutMs = 2000): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}
