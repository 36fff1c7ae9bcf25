// Who a token may act for. A Page token speaks for its Page and the Instagram account linked
// to it (Instagram via Facebook Login); an Instagram Login token for its IG account; a user
// token for the person (and, through /me/accounts, the Pages they manage).
import type { IssuedToken } from '../../core/tokens';
import { Errors, GraphError } from './errors';
import type { GraphPath, MetaEnv } from './http';
import type { Channel, Conversation } from './state';

export interface Actor {
  /** Account the path names (Page id or IG id), resolved from `me` when needed. */
  accountId: string;
  channel: Channel;
  token: IssuedToken;
}

/** Accounts whose conversations this token can read and send in. */
export function accountsOf(env: MetaEnv, token: IssuedToken): string[] {
  if (token.kind === 'page') {
    const page = env.world.pages.get(token.subject);
    return page ? [page.id, ...(page.igAccountId ? [page.igAccountId] : [])] : [];
  }
  if (token.kind.startsWith('ig_')) return [token.subject];
  return [];
}

/** The account named by `{id}` or `me` in a Page/IG-scoped path, checked against the token. */
export function actorFor(env: MetaEnv, p: GraphPath, token: IssuedToken, idSeg: string, method: string): Actor {
  const { world } = env;
  if (token.kind === 'user_short' || token.kind === 'user_long') {
    if (idSeg === 'me' || idSeg === token.subject) throw Errors.pageTokenRequired();
    if (world.pages.has(idSeg) || world.igAccounts.has(idSeg)) throw Errors.pageTokenRequired();
    throw Errors.unsupported(method, idSeg);
  }
  let accountId: string | undefined;
  if (idSeg === 'me') accountId = token.subject;
  else if (p.host === 'graph.instagram.com') accountId = world.igByAnyId(idSeg)?.id;
  else accountId = world.pages.has(idSeg) || world.igAccounts.has(idSeg) ? idSeg : undefined;
  if (!accountId || !accountsOf(env, token).includes(accountId)) throw Errors.unsupported(method, idSeg);
  return { accountId, channel: world.pages.has(accountId) ? 'messenger' : 'instagram', token };
}

/** The messaging permission each way of reaching a channel needs. */
export function requireMessagingScope(token: IssuedToken, channel: Channel, code = 200): void {
  const scope = token.kind.startsWith('ig_') ? 'instagram_business_manage_messages' : channel === 'messenger' ? 'pages_messaging' : 'instagram_manage_messages';
  if (!token.scopes.includes(scope)) throw new GraphError(code, `(#${code}) Requires ${scope} permission to manage the object`);
}

export function assertCanRead(env: MetaEnv, token: IssuedToken, conv: Conversation, method: string, id: string): void {
  if (!accountsOf(env, token).includes(conv.accountId)) {
    if (token.kind.startsWith('user_')) throw Errors.pageTokenRequired();
    throw Errors.unsupported(method, id);
  }
}
