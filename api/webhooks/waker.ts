// Wakes a channel workflow when webhook events are waiting for it — coalesced: however many
// deliveries arrive, each workflow gets at most one `eventsPending` signal per interval (Temporal
// advises a few signals a second into one workflow at most), and the drain takes everything queued
// by then. A lost wake loses nothing: the events are already stored, and the reconciliation sweep
// and the next API start wake channels whose queue is not empty.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { eventsPendingSignal } from '../../workflows/channel';

interface WakeState { inFlight: boolean; again: boolean; last: number; timer?: NodeJS.Timeout }

export class ChannelWaker {
  private readonly states = new Map<string, WakeState>();
  private closed = false;
  /** Signals actually sent (for the log and the benchmark). */
  signals = 0;

  constructor(private readonly temporal: Client, private readonly log: Logger, private readonly minIntervalMs = 200) {}

  wake(workflowId: string): void {
    if (this.closed) return;
    let st = this.states.get(workflowId);
    if (!st) {
      st = { inFlight: false, again: false, last: 0 };
      this.states.set(workflowId, st);
    }
    if (st.inFlight || st.timer) { st.again = true; return; }
    const wait = st.last + this.minIntervalMs - Date.now();
    if (wait > 0) { st.again = true; st.timer = setTimeout(() => this.fire(workflowId, st), wait); return; }
    void this.send(workflowId, st);
  }

  close(): void {
    this.closed = true;
    for (const st of this.states.values()) if (st.timer) clearTimeout(st.timer);
    this.states.clear();
  }

  private fire(workflowId: string, st: WakeState) {
    st.timer = undefined;
    if (st.again) void this.send(workflowId, st);
  }

  private async send(workflowId: string, st: WakeState): Promise<void> {
    st.inFlight = true;
    st.again = false;
    try {
      await this.temporal.workflow.getHandle(workflowId).signal(eventsPendingSignal);
      this.signals++;
    } catch (err) {
      // A disconnected channel's workflow has ended; anything else is retried by the sweep.
      this.log.warn({ workflowId, err: (err as Error).message }, 'could not wake channel workflow; events stay queued');
    } finally {
      st.inFlight = false;
      st.last = Date.now();
    }
    if (this.closed) return;
    if (st.again) st.timer = setTimeout(() => this.fire(workflowId, st), this.minIntervalMs);
    else if (this.states.size > 10_000) this.states.delete(workflowId);
  }
}
