// The customer generator: "customers" write to the business on a platform at a chosen rate,
// each message entering platform state and arriving at our webhook as the platform sends it.
import type { PlatformModule } from '../platforms/types';

export interface ScenarioInput {
  platform: string;
  ratePerSecond: number;
  count: number;
  accountId?: string;
  /** How many distinct customers write (round-robin); default 10. */
  customers?: number;
  media?: boolean;
}

export interface ScenarioState extends ScenarioInput {
  id: number;
  sent: number;
  failed: number;
  startedAt: number;
  finishedAt?: number;
  stopped?: boolean;
  messageIds: string[];
}

export class ScenarioRunner {
  private nextId = 1;
  private readonly scenarios = new Map<number, ScenarioState>();
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly platforms: Map<string, PlatformModule>) {}

  start(input: ScenarioInput): ScenarioState {
    const platform = this.platforms.get(input.platform);
    if (!platform) throw new Error(`unknown platform "${input.platform}"`);
    const state: ScenarioState = { ...input, id: this.nextId++, sent: 0, failed: 0, startedAt: Date.now(), messageIds: [] };
    this.scenarios.set(state.id, state);
    const customers = Array.from({ length: input.customers ?? 10 }, (_, i) => i);
    const intervalMs = 1000 / input.ratePerSecond;
    const started = Date.now();
    let issued = 0;
    // Catch up to the schedule on every tick, so the rate holds even when timers run late.
    const tick = () => {
      if (state.stopped) return;
      const due = Math.min(input.count, Math.floor((Date.now() - started) / intervalMs) + 1);
      while (issued < due) {
        const n = issued++;
        platform
          .customerWrites({ accountId: input.accountId, customerId: customerKey(state.id, customers[n % customers.length]!), text: `Message ${n + 1} from scenario ${state.id}`, media: input.media })
          .then((r) => { state.sent++; state.messageIds.push(r.messageId); }, () => { state.failed++; })
          .finally(() => { if (state.sent + state.failed >= input.count) state.finishedAt = Date.now(); });
      }
      if (issued < input.count) this.timers.set(state.id, setTimeout(tick, Math.max(1, Math.min(intervalMs, 50))));
      else this.timers.delete(state.id);
    };
    tick();
    return state;
  }

  stop(id: number): ScenarioState | undefined {
    const state = this.scenarios.get(id);
    if (!state) return undefined;
    state.stopped = true;
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    state.finishedAt ??= Date.now();
    return state;
  }

  list(): ScenarioState[] {
    return [...this.scenarios.values()].map((s) => ({ ...s, messageIds: s.messageIds.slice(-100) }));
  }

  get(id: number): ScenarioState | undefined {
    return this.scenarios.get(id);
  }

  close(): void {
    for (const id of this.timers.keys()) this.stop(id);
  }
}

/** Customers of a scenario are new people, stable within it (so conversations get several messages). */
const customerKey = (scenario: number, n: number) => `scenario${scenario}-customer${n}`;
