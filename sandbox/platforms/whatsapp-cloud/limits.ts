// Token buckets for the two WhatsApp send limits: business-number throughput (130429) and the
// per-user pair rate (131056). Time is passed in (sandbox clock), nothing global.
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  /** `capacity` tokens at most (the burst), refilled at `perSecond`. */
  constructor(private readonly capacity: number, private readonly perSecond: number, now: number) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  private refill(now: number) {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.perSecond);
    this.updatedAt = now;
  }

  /** Takes one token; when none is left, says how long until one is (whole seconds, ≥ 1). */
  take(now: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond)) };
  }

  /** Takes a token if one is there, never refusing (inbound traffic shares the number's budget). */
  consume(now: number): void {
    this.refill(now);
    if (this.tokens >= 1) this.tokens -= 1;
  }
}
