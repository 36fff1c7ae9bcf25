// Fault injection per platform and endpoint: server errors, timeouts, rate limits with
// Retry-After, and latency. Each platform renders a decision in its own error format.
import { z } from 'zod';
import type { Random } from './random';

export const FaultRuleSchema = z.object({
  platform: z.string().min(1),
  /** Endpoint name as the platform module names it (e.g. "send", "token"), or "*" for all. */
  endpoint: z.string().min(1).default('*'),
  errorRate: z.number().min(0).max(1).default(0),
  /** HTTP status for injected errors (5xx by default). */
  errorStatus: z.number().int().min(400).max(599).default(500),
  timeoutRate: z.number().min(0).max(1).default(0),
  rateLimitRate: z.number().min(0).max(1).default(0),
  retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
  latencyMs: z.number().int().min(0).max(120_000).default(0),
  /** Apply to the next N matching requests only, then remove the rule. */
  remaining: z.number().int().min(1).optional(),
});
export type FaultRuleInput = z.input<typeof FaultRuleSchema>;
export type FaultRule = z.output<typeof FaultRuleSchema> & { id: number };

export type FaultDecision =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'error'; status: number; latencyMs: number }
  | { kind: 'timeout'; latencyMs: number }
  | { kind: 'rate_limit'; retryAfterSeconds: number; latencyMs: number };

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;

  /** How long a "timeout" hangs before the connection gets a 504; clients should give up first. */
  constructor(private readonly random: Random, readonly hangMs = 30_000) {}

  add(input: FaultRuleInput): FaultRule {
    const rule = { ...FaultRuleSchema.parse(input), id: this.nextId++ };
    this.rules.push(rule);
    return rule;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(platform?: string): void {
    this.rules = platform ? this.rules.filter((r) => r.platform !== platform) : [];
  }

  list(): FaultRule[] {
    return [...this.rules];
  }

  decide(platform: string, endpoint: string): FaultDecision {
    let latencyMs = 0;
    for (const rule of this.rules) {
      if (rule.platform !== platform || (rule.endpoint !== '*' && rule.endpoint !== endpoint)) continue;
      latencyMs = Math.max(latencyMs, rule.latencyMs);
      let decision: FaultDecision | undefined;
      const roll = this.random.next();
      if (roll < rule.rateLimitRate) decision = { kind: 'rate_limit', retryAfterSeconds: rule.retryAfterSeconds, latencyMs };
      else if (roll < rule.rateLimitRate + rule.errorRate) decision = { kind: 'error', status: rule.errorStatus, latencyMs };
      else if (roll < rule.rateLimitRate + rule.errorRate + rule.timeoutRate) decision = { kind: 'timeout', latencyMs };
      if (rule.remaining !== undefined) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) this.remove(rule.id);
      }
      if (decision) return decision;
    }
    return { kind: 'none', latencyMs };
  }
}
