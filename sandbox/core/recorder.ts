// Everything clients sent to each simulated platform, and counters, for tests and the admin API.
export interface RecordedRequest {
  seq: number;
  at: number;
  platform: string;
  endpoint: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  status: number;
  fault?: string;
}

export class Recorder {
  private seq = 0;
  private readonly requests: RecordedRequest[] = [];
  private readonly counters = new Map<string, number>();

  constructor(private readonly limit = 50_000) {}

  record(entry: Omit<RecordedRequest, 'seq'>): RecordedRequest {
    const full = { ...entry, seq: ++this.seq };
    this.requests.push(full);
    if (this.requests.length > this.limit) this.requests.splice(0, this.requests.length - this.limit);
    this.count(`${entry.platform}.${entry.endpoint}.${entry.status}`);
    this.count(`${entry.platform}.${entry.endpoint}`);
    if (entry.fault) this.count(`${entry.platform}.faults.${entry.fault}`);
    return full;
  }

  count(key: string, by = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  list(filter: { platform?: string; endpoint?: string; since?: number } = {}): RecordedRequest[] {
    return this.requests.filter((r) =>
      (!filter.platform || r.platform === filter.platform) &&
      (!filter.endpoint || r.endpoint === filter.endpoint) &&
      (!filter.since || r.seq > filter.since));
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.requests.length = 0;
    this.counters.clear();
  }
}
