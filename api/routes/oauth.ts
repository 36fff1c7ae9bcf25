// Where platforms send the user back after consent. No API key: the signed, short-lived `state`
// names the channel, and its one-time nonce is consumed here, so a state works once.
import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { PendingAuth } from '../../activities/channel-lifecycle';
import { CHANNEL_STATUSES } from '../../lib/domain/channel';
import { seal, type EncryptionKey } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { verifyState } from '../../lib/oauth-state';
import { ChannelModel } from '../../models';
import { authorizationFailedSignal, connectUpdate } from '../../workflows/channel';
import { errorResponses, newRouter } from '../router';

const CallbackQuery = z.object({
  state: z.string().min(1).max(2000),
  code: z.string().min(1).max(4000).optional(),
  error: z.string().max(200).optional(),
  error_reason: z.string().max(200).optional(),
  error_description: z.string().max(1000).optional(),
});

const Outcome = z.object({ ok: z.boolean(), channelId: z.string(), status: z.enum(CHANNEL_STATUSES), message: z.string() }).openapi('OAuthOutcome');

export function oauthRoutes(deps: { temporal: Client; keys: EncryptionKey[]; stateKey: Buffer; redirectUri: string }) {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/oauth/callback', tags: ['channels'], summary: 'OAuth redirect target (called by the platform via the browser)',
      request: { query: CallbackQuery },
      responses: {
        200: { description: 'Connected', content: { 'application/json': { schema: Outcome } } },
        422: { description: 'Consent denied or the platform refused', content: { 'application/json': { schema: Outcome } } },
        ...errorResponses(400, 503),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const check = verifyState(q.state, deps.stateKey);
      if (!check.ok) {
        const why = { malformed: 'is malformed', bad_signature: 'has a bad signature', expired: 'has expired; start the connection again' }[check.reason];
        throw new AppError(400, 'invalid_state', `The OAuth state ${why}`);
      }
      const { tenantId, channelId, nonce } = check.state;
      const nonceHash = createHash('sha256').update(nonce).digest('hex');
      const denied = q.error ? `Consent was not granted: ${q.error_description ?? q.error_reason ?? q.error}` : !q.code ? 'The platform sent no authorization code' : undefined;
      // Consume the nonce whatever the outcome: a state is good for one callback only. (updateOne,
      // not findOneAndUpdate: FerretDB cannot project a findAndModify, and select:false fields need one.)
      const consumed = await ChannelModel.updateOne(
        { _id: channelId, tenantId, oauthNonceHash: nonceHash, status: { $in: ['pending_auth', 'reauth_required'] } },
        denied
          ? { $unset: { oauthNonceHash: 1 } }
          : { $unset: { oauthNonceHash: 1 }, $set: { pendingAuth: seal(JSON.stringify({ kind: 'oauth', code: q.code!, redirectUri: deps.redirectUri } satisfies PendingAuth), deps.keys) } },
      );
      const channel = consumed.modifiedCount === 1 ? await ChannelModel.findById(channelId).lean() : null;
      if (!channel) throw new AppError(400, 'state_used', 'This authorization link was already used or replaced, or the channel is not waiting for authorization; start the connection again');

      const handle = deps.temporal.workflow.getHandle(channel.workflowId);
      if (denied) {
        await handle.signal(authorizationFailedSignal, { reason: denied }).catch(() => undefined);
        return c.json({ ok: false, channelId, status: channel.status, message: denied }, 422);
      }
      const outcome = await handle.executeUpdate(connectUpdate).catch((err) => {
        c.get('log').error({ err }, 'could not reach the channel workflow');
        throw new AppError(503, 'temporal_unavailable', 'Could not reach the channel workflow; try connecting again');
      });
      return c.json({ ok: outcome.ok, channelId, status: outcome.status, message: outcome.message }, outcome.ok ? 200 : 422);
    },
  );
  return router;
}
