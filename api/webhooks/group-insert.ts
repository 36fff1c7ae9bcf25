// Group commit for the webhook queue: concurrent deliveries' inserts are written together. While
// `lanes` insertMany calls are in flight, the next deliveries' documents gather and go in the next
// one — so a lone delivery is written at once (no added latency), and under load hundreds of
// deliveries share one round trip and one database write instead of one each. Two lanes: a
// delivery arriving just after a batch left starts the next one at once instead of waiting for
// that batch's round trip first. Every delivery still waits for its own documents to be stored
// before it is acknowledged.
import type { Collection, Document } from 'mongodb';
import { insertNew } from '../../activities/inbox-writes';

interface Waiter { docs: { _id: string }[]; resolve: (inserted: Set<string>) => void; reject: (err: unknown) => void }

export class GroupInsert {
  private waiting: Waiter[] = [];
  private inFlight = 0;
  /** Round trips and documents written, for the benchmark. */
  readonly stats = { batches: 0, docs: 0 };

  constructor(private readonly collection: () => Collection<Document>, private readonly maxBatch = 2000, private readonly lanes = 2) {}

  /** Stores the documents (duplicates of stored `_id`s are refused); resolves with the `_id`s inserted. */
  insert(docs: { _id: string }[]): Promise<Set<string>> {
    if (docs.length === 0) return Promise.resolve(new Set());
    return new Promise((resolve, reject) => {
      this.waiting.push({ docs, resolve, reject });
      if (this.inFlight < this.lanes) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight++;
    while (this.waiting.length > 0) {
      const batch: Waiter[] = [];
      let size = 0;
      while (this.waiting.length > 0 && (batch.length === 0 || size + this.waiting[0]!.docs.length <= this.maxBatch)) {
        const w = this.waiting.shift()!;
        batch.push(w);
        size += w.docs.length;
      }
      try {
        const inserted = await insertNew(this.collection(), batch.flatMap((w) => w.docs));
        this.stats.batches++;
        this.stats.docs += size;
        for (const w of batch) w.resolve(new Set(w.docs.filter((d) => inserted.has(d._id)).map((d) => d._id)));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.inFlight--;
  }
}
