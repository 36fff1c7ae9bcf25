// Builds the Switchboard worker: every workflow and activity on one task queue.
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

export interface SwitchboardWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (tests build one per run); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkflowBundle;
  /** Encryption keys and platform configuration the activities use. */
  activityDeps: ActivityDeps;
  /**
   * Workflows kept in memory between their tasks (WORKER_MAX_CACHED_WORKFLOWS). A channel
   * workflow that was evicted replays its whole history at its next sync: with more channels than
   * this, every sync pays that replay. The SDK's default is ~600 per GiB of heap (~2,300 here).
   */
  maxCachedWorkflows?: number;
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

export async function createSwitchboardWorker(opts: SwitchboardWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.activityDeps),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    shutdownGraceTime: '10 seconds',
    ...(opts.maxCachedWorkflows ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
  });
}
