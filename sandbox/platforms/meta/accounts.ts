// The business side of the Graph: who the token is (/me), the Pages a person manages with their
// Page tokens (/me/accounts), a Page's linked Instagram business account, granted permissions,
// and the app's webhook subscription per Page or Instagram Login account (subscribed_apps).
import type { Context } from 'hono';
import type { IssuedToken } from '../../core/tokens';
import { actorFor } from './access';
import { Errors } from './errors';
import { paginate, pagingBlock, parseLimit, requestLink, selectFields, withId, type FieldNode } from './fields';
import { PLATFORM, tokenProblem, type GraphPath, type MetaEnv } from './http';
import { deauthorize } from './oauth';
import type { IgAccount, Page } from './state';

const PAGE_FIELDS = ['id', 'name', 'category', 'category_list', 'access_token', 'tasks', 'instagram_business_account', 'link'];
const IG_FIELDS = ['id', 'user_id', 'username', 'name', 'account_type', 'profile_picture_url', 'followers_count', 'follows_count', 'media_count'];
const VALID_PAGE_WEBHOOK_FIELDS = ['messages', 'messaging_postbacks', 'messaging_optins', 'message_deliveries', 'message_reads', 'message_echoes', 'messaging_referrals', 'messaging_handovers', 'standby', 'message_reactions', 'messaging_account_linking', 'message_edits', 'feed', 'inbox_labels'];
const VALID_IG_WEBHOOK_FIELDS = ['messages', 'messaging_postbacks', 'messaging_seen', 'messaging_referral', 'messaging_optins', 'message_reactions', 'messaging_handover', 'comments', 'live_comments', 'mentions', 'story_insights', 'message_edit'];

const isUserToken = (t: IssuedToken) => t.kind === 'user_short' || t.kind === 'user_long';

export function accountsApi(env: MetaEnv) {
  const { ctx, world } = env;

  /** The Page token a user token yields for a Page: stable across calls, no expiry from a long-lived user token. */
  function pageTokenFor(user: IssuedToken, page: Page): IssuedToken {
    const perUser = world.pageTokens.get(user.token) ?? new Map<string, string>();
    world.pageTokens.set(user.token, perUser);
    const existing = ctx.tokens.get(perUser.get(page.id));
    if (existing && !tokenProblem(env, existing)) return existing;
    const ttlSeconds = user.kind === 'user_long' || user.expiresAt === null ? null : Math.max(1, ctx.tokens.expiresIn(user) ?? 0);
    const token = ctx.tokens.issue({ platform: PLATFORM, kind: 'page', subject: page.id, app: 'meta', scopes: user.scopes, prefix: 'EAAG', ttlSeconds, meta: { userId: user.subject, parent: user.token, dataAccessExpiresAt: user.meta?.dataAccessExpiresAt } });
    perUser.set(page.id, token.token);
    return token;
  }

  function igNode(ig: IgAccount, fields: FieldNode[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      switch (f.name) {
        case 'id': out.id = ig.id; break;
        case 'user_id': out.user_id = ig.id; break;
        case 'username': out.username = ig.username; break;
        case 'name': out.name = ig.name; break;
        case 'account_type': out.account_type = ig.accountType; break;
        case 'profile_picture_url': out.profile_picture_url = `${ctx.publicUrl()}/graph.facebook.com/__sandbox/media/profile-${ig.id}.png`; break;
        case 'followers_count': out.followers_count = 1204; break;
        case 'follows_count': out.follows_count = 87; break;
        case 'media_count': out.media_count = 42; break;
      }
    }
    return withId(out, ig.id);
  }

  function pageNode(page: Page, fields: FieldNode[], token: IssuedToken): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      switch (f.name) {
        case 'id': out.id = page.id; break;
        case 'name': out.name = page.name; break;
        case 'category': out.category = page.category; break;
        case 'category_list': out.category_list = [{ id: '2201', name: page.category }]; break;
        case 'tasks': out.tasks = page.tasks; break;
        case 'link': out.link = `https://www.facebook.com/${page.id}`; break;
        case 'access_token': if (isUserToken(token)) out.access_token = pageTokenFor(token, page).token; break;
        case 'instagram_business_account': {
          const ig = page.igAccountId ? world.igAccounts.get(page.igAccountId) : undefined;
          // Absent (not null) when no Instagram account is linked, as on Graph.
          if (ig) out.instagram_business_account = igNode(ig, f.children ? checkChildren(f.children, IG_FIELDS, 'IGUser') : [{ name: 'id' }]);
          break;
        }
      }
    }
    return withId(out, page.id);
  }

  return {
    pageNode(c: Context, page: Page, token: IssuedToken): Record<string, unknown> {
      if (!isUserToken(token) && token.subject !== page.id) throw Errors.unsupported('GET', page.id);
      return pageNode(page, selectFields(c.req.query('fields'), PAGE_FIELDS, ['id', 'name'], 'Page'), token);
    },

    igNode(c: Context, ig: IgAccount, token: IssuedToken, host: GraphPath['host']): Record<string, unknown> {
      const allowed = isUserToken(token) ? !!ig.pageId : token.kind === 'page' ? ig.pageId === token.subject : token.subject === ig.id;
      if (!allowed) throw Errors.unsupported('GET', ig.id);
      const fields = selectFields(c.req.query('fields'), IG_FIELDS, ['id'], host === 'graph.instagram.com' ? 'User' : 'IGUser');
      const out = igNode(ig, fields);
      // Instagram Login: `id` is the app-scoped id; `user_id` is the professional id webhooks use.
      if (host === 'graph.instagram.com') out.id = ig.appScopedId;
      return out;
    },

    /** `/me`: the person for a user token, the Page for a Page token, the IG account on graph.instagram.com. */
    me(c: Context, token: IssuedToken, p: GraphPath): Record<string, unknown> {
      if (p.host === 'graph.instagram.com') return this.igNode(c, world.igAccounts.get(token.subject)!, token, p.host);
      if (token.kind === 'page') return this.pageNode(c, world.pages.get(token.subject)!, token);
      const fields = selectFields(c.req.query('fields'), ['id', 'name', 'first_name', 'last_name', 'email'], ['id', 'name'], 'User');
      const [first, last] = world.user.name.split(' ');
      const values: Record<string, string> = { id: world.user.id, name: world.user.name, first_name: first!, last_name: last ?? '', email: 'admin@sandbox.example' };
      if (!token.scopes.includes('email')) delete values.email;
      return withId(Object.fromEntries(fields.filter((f) => f.name in values).map((f) => [f.name, values[f.name]])), world.user.id);
    },

    /** `/me/accounts`: the person's Pages with Page tokens; nothing without pages_show_list. */
    accounts(c: Context, token: IssuedToken): Record<string, unknown> {
      if (!isUserToken(token)) throw Errors.nonexistingField('accounts', 'Page');
      const fields = selectFields(c.req.query('fields'), PAGE_FIELDS, ['access_token', 'category', 'category_list', 'name', 'id', 'tasks'], 'Page');
      const pages = token.scopes.includes('pages_show_list') ? [...world.pages.values()] : [];
      const slice = paginate(pages, (pg) => pg.id, { limit: parseLimit(c.req.query('limit')), after: c.req.query('after'), before: c.req.query('before') });
      const paging = pagingBlock(slice, (pg) => pg.id, requestLink(c, ctx.publicUrl()));
      return { data: slice.items.map((pg) => pageNode(pg, fields, token)), ...(paging ? { paging } : {}) };
    },

    permissions(c: Context, token: IssuedToken): Record<string, unknown> {
      if (!isUserToken(token)) throw Errors.userTokenRequired();
      if (c.req.method === 'DELETE') {
        deauthorize(env, token.subject);
        return { success: true };
      }
      const grant = world.grants.get(token.subject);
      const granted = token.scopes.map((permission) => ({ permission, status: 'granted' }));
      const declined = (grant?.declined ?? []).filter((s) => !token.scopes.includes(s)).map((permission) => ({ permission, status: 'declined' }));
      return { data: [...granted, ...declined] };
    },

    /** `{page-id|me}/subscribed_apps` (Page token) or `graph.instagram.com/me/subscribed_apps` (IG token). */
    subscribedApps(c: Context, p: GraphPath, token: IssuedToken, params: Record<string, unknown>): Record<string, unknown> {
      const actor = actorFor(env, p, token, p.segs[0]!, c.req.method);
      const page = world.pages.get(actor.accountId);
      const ig = page ? undefined : world.igAccounts.get(actor.accountId);
      if (ig?.pageId) throw Errors.unsupported(c.req.method, p.segs[0]!); // IG via Facebook Login subscribes through its Page
      const fields = (page ?? ig)!.subscribedFields;
      const app = ctx.apps.get(page ? 'meta' : 'instagram');
      if (c.req.method === 'GET') {
        return { data: fields.size ? [{ category: 'Business', link: `https://sandbox.example/app/${app.id}`, name: 'Switchboard (sandbox)', id: app.id, subscribed_fields: [...fields] }] : [] };
      }
      if (c.req.method === 'DELETE') {
        fields.clear();
        return { success: true };
      }
      const raw = params.subscribed_fields;
      const list = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? parseFieldList(raw) : [];
      if (!list.length) throw Errors.param('The parameter subscribed_fields is required.');
      const valid = page ? VALID_PAGE_WEBHOOK_FIELDS : VALID_IG_WEBHOOK_FIELDS;
      list.forEach((f, i) => {
        if (!valid.includes(f)) throw Errors.param(`Param subscribed_fields[${i}] must be one of {${valid.join(', ')}} - got "${f}"`);
      });
      fields.clear();
      for (const f of list) fields.add(f);
      return { success: true };
    },
  };
}

function parseFieldList(raw: string): string[] {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[')) {
    try { return (JSON.parse(trimmed) as unknown[]).map(String); } catch { throw Errors.param('Param subscribed_fields must be a list'); }
  }
  return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
}

function checkChildren(children: FieldNode[], allowed: string[], nodeType: string): FieldNode[] {
  for (const ch of children) if (!allowed.includes(ch.name)) throw Errors.nonexistingField(ch.name, nodeType);
  return children;
}

