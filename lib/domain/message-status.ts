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

/**
 * The error shown on a message a platform reported as failed. WhatsApp refuses a free-form
 * message outside the 24 h window only after accepting it (Cloud 131047, Twilio 63016): that is
 * the same `window_closed` a send checked up front reports, with what to do instead.
 */
export function deliveryFailure(error: { code: string; message: string } | undefined): { code: string; message: string } {
  if (!error) return { code: 'failed', message: 'the platform reported the message as failed' };
  if (error.code === '131047' || error.code === '63016') {
    return { code: 'window_closed', message: `${error.message} (platform code ${error.code}); send an approved template instead` };
  }
  return error;
}
