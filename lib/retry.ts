// Start-up connections: keep trying while a dependency comes up, with a growing pause.
import type { Logger } from 'pino';

export async function connectWithRetry<T>(what: string, connect: () => Promise<T>, opts: { log: Logger; maxAttempts?: number; stopped?: () => boolean }): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    if (opts.stopped?.()) return undefined;
    try {
      return await connect();
    } catch (err) {
      if (opts.maxAttempts && attempt >= opts.maxAttempts) throw err;
      opts.log.warn({ err: (err as Error).message, attempt }, `${what} not reachable yet; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5000)));
    }
  }
}
