// Where a message's delivery status may move. Pure: workflows and activities share it.
//
//   pending → sent → delivered → read        (never backwards, whatever order callbacks arrive in)
//          ↘ failed                          (only before delivery: a delivered message cannot fail)
//
// Ranks leave room between steps so `failed` sits after `sent` and before `delivered`. An update
// applies only when the new rank is higher than the stored one, which makes it idempotent and
// order-independent.
export const STATUS_RANK = { received: 0, pending: 10, sent: 20, failed: 25, delivered: 30, read: 40 } as const;
export type RankedStatus = keyof typeof STATUS_RANK;

export function statusRank(status: RankedStatus): number {
  return STATUS_RANK[status];
}

/** True when a message at `current` may move to `next`. */
export function statusMayMove(current: RankedStatus, next: RankedStatus): boolean {
  return STATUS_RANK[next] > STATUS_RANK[current];
}
