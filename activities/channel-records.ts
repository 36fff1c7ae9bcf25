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
      // An undefined reason must clear the old one (mongoose drops undefined from $set).
      const reasonUpdate = reason ? { $set: { statusReason: reason } } : { $unset: { statusReason: 1 } };
      const update = status === 'disconnected'
        ? { $set: { status, ...reasonUpdate.$set, disconnectedAt: new Date() }, ...(reason ? {} : { $unset: { statusReason: 1 } }) }
        : { $set: { status, ...reasonUpdate.$set }, $unset: { disconnectedAt: 1, ...(reason ? {} : { statusReason: 1 }) } };
      const filter = status === 'disconnected' ? { _id: channelId } : { _id: channelId, status: { $ne: 'disconnected' as const } };
      const result = await ChannelModel.updateOne(filter, update);
      if (result.matchedCount === 0 && !(await ChannelModel.exists({ _id: channelId }))) {
        throw ApplicationFailure.nonRetryable(`channel ${channelId} does not exist`, 'ChannelNotFound');
      }
    },
  };
}
