// Activities that record a channel's state in MongoDB. Idempotent: a retried activity writes the
// same values again, and a status change is conditional so a late retry cannot resurrect a
// disconnected channel.
import { Types } from 'mongoose';
import { ApplicationFailure } from '@temporalio/activity';
import { ChannelModel } from '../models';
import type { ChannelStatus } from '../lib/domain/channel';
import { appendEvents } from '../lib/event-log';
import { channelStatusChanged } from '../lib/event-payloads';
import { isRetriedAttempt } from './activity-context';

export interface ChannelRecordActivities {
  recordChannelStatus(input: { channelId: string; status: ChannelStatus; reason?: string }): Promise<void>;
}

export function createChannelRecordActivities(): ChannelRecordActivities {
  return {
    async recordChannelStatus({ channelId, status, reason }) {
      if (!Types.ObjectId.isValid(channelId)) {
        throw ApplicationFailure.nonRetryable(`invalid channel id ${channelId}`, 'InvalidChannelId');
      }
      // An absent reason clears the old one (mongoose would drop `undefined` from a $set).
      const disconnected = status === 'disconnected';
      const update = {
        $set: { status, ...(reason ? { statusReason: reason } : {}), ...(disconnected ? { disconnectedAt: new Date() } : {}) },
        $unset: { ...(reason ? {} : { statusReason: 1 }), ...(disconnected ? {} : { disconnectedAt: 1 }) },
      };
      const filter = disconnected ? { _id: channelId } : { _id: channelId, status: { $ne: 'disconnected' as const } };
      // The driver's call: mongoose would add a projection (hidden fields), which FerretDB's
      // findAndModify does not support.
      const before = await ChannelModel.collection.findOneAndUpdate({ ...filter, _id: new Types.ObjectId(channelId) }, update, { returnDocument: 'before' });
      if (!before && !(await ChannelModel.exists({ _id: channelId }))) {
        throw ApplicationFailure.nonRetryable(`channel ${channelId} does not exist`, 'ChannelNotFound');
      }
      // A retried attempt announces again: its first attempt may have changed the status and died.
      if (before && (before.status !== status || isRetriedAttempt())) {
        await appendEvents(String(before.tenantId), [channelStatusChanged({ channelId, platform: before.platform, status, ...(reason ? { reason } : {}) })]);
      }
    },
  };
}
