// Per-channel send pacing shared by every worker: each send takes the next free slot on the
// channel's timeline, slots a little over `1000 / rate` ms apart, so no second of sending ever
// holds more than the channel's rate. Two atomic single-document updates, no lock: `$max` brings an idle channel's
// timeline up to now, `$inc` hands out the next slot — concurrent senders never share one.
import type { Document } from 'mongodb';
import { SLOT_LATENESS_MS, sendIntervalMs } from '../lib/domain/send-rate';
import { heartbeatIfActivity } from './activity-context';
import { SendPaceModel } from '../models';

const DUPLICATE_KEY = 11000;

/** Reserves the channel's next send slot; returns when it starts (ms since the epoch). */
export async function takeSendSlot(channelId: string, perSecond: number, now = Date.now()): Promise<number> {
  const interval = sendIntervalMs(perSecond);
  const pace = SendPaceModel.collection;
  try {
    await pace.updateOne({ _id: channelId } as Document, { $max: { next: now } }, { upsert: true });
  } catch (err) {
    // Two first sends raced to create the document: it exists now, bring it up to date.
    if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
    await pace.updateOne({ _id: channelId } as Document, { $max: { next: now } });
  }
  const taken = await pace.findOneAndUpdate({ _id: channelId } as Document, { $inc: { next: interval } }, { returnDocument: 'after' });
  return Number(taken!.next) - interval;
}

/**
 * Waits for the slot, then returns when the send may start. A send that wakes too late (a busy
 * worker, a queue of late activities all waking at once) does not go out late — several late
 * sends would bunch up over the cap — it takes a new slot from now and waits for that one.
 */
export async function sendInSlot(channelId: string, perSecond: number, slot: number): Promise<void> {
  for (let at = slot; ; at = await takeSendSlot(channelId, perSecond)) {
    await waitUntil(at, () => heartbeatIfActivity());
    if (Date.now() - at <= SLOT_LATENESS_MS) return;
  }
}

/** Waits until `at`, calling `tick` every few seconds (an activity heartbeats there). */
export async function waitUntil(at: number, tick: () => void = () => undefined): Promise<void> {
  for (let left = at - Date.now(); left > 0; left = at - Date.now()) {
    await new Promise((r) => setTimeout(r, Math.min(left, 5000)));
    tick();
  }
}
