// Activities that record a channel's state in MongoDB. Idempotent: a retried activity writes the
// same values again, and a status change is conditional so a late retry cannot resurrect a
// disconnected channel.
import { Types } from 'mongoose';
import { ApplicationFailure } from '@temporalio/activity';
import { ChannelModel } from '../models';
import type { ChannelStatus } from '../lib/domain/channel';

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
      const result = await ChannelModel.updateOne(filter, update);
      if (result.matchedCount === 0 && !(await ChannelModel.exists({ _id: channelId }))) {
        throw ApplicationFailure.nonRetryable(`channel ${channelId} does not exist`, 'ChannelNotFound');
      }
    },
  };
}
