// Graph API errors as Meta renders them: {"error":{message,type,code,error_subcode?,fbtrace_id}},
// HTTP 400 for almost everything, 500/503 for transient server failures. Handlers throw a
// GraphError; the route wrapper renders it, so bad input never becomes a sandbox 500.
import { randomBytes } from 'node:crypto';

export interface GraphErrorOptions {
  subcode?: number;
  status?: number;
  type?: string;
  userTitle?: string;
  userMsg?: string;
  isTransient?: boolean;
  headers?: Record<string, string>;
}

export class GraphError extends Error {
  constructor(readonly code: number, message: string, readonly opts: GraphErrorOptions = {}) {
    super(message);
  }
  get status(): number {
    return this.opts.status ?? 400;
  }
}

/** Meta's opaque request trace id (shape only; support would look it up). */
export const fbtraceId = () => `A${randomBytes(16).toString('base64url').slice(0, 22)}`;

export function graphErrorBody(err: GraphError): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = { message: err.message, type: err.opts.type ?? 'OAuthException', code: err.code };
  if (err.opts.subcode !== undefined) error.error_subcode = err.opts.subcode;
  if (err.opts.isTransient !== undefined) error.is_transient = err.opts.isTransient;
  if (err.opts.userTitle) error.error_user_title = err.opts.userTitle;
  if (err.opts.userMsg) error.error_user_msg = err.opts.userMsg;
  error.fbtrace_id = fbtraceId();
  return { error };
}

/** The Graph errors the simulator raises, named by what went wrong. */
export const Errors = {
  missingToken: () => new GraphError(104, 'An access token is required to request this resource.'),
  unparseableToken: () => new GraphError(190, 'Invalid OAuth access token - Cannot parse access token'),
  tokenExpired: (expiredAt: number, now: number) => new GraphError(190, `Error validating access token: Session has expired on ${new Date(expiredAt).toUTCString()}. The current time is ${new Date(now).toUTCString()}.`, { subcode: 463 }),
  tokenRevoked: (subcode: number, message: string) => new GraphError(190, message, { subcode }),
  pageTokenRequired: () => new GraphError(210, '(#210) A page access token is required to request this resource.'),
  userTokenRequired: () => new GraphError(190, '(#190) This method must be called with a User Access Token'),
  unsupported: (method: string, id: string) => new GraphError(100, `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`, { subcode: 33 }),
  unknownPath: (path: string) => new GraphError(2500, `Unknown path components: /${path}`),
  param: (message: string, subcode?: number) => new GraphError(100, `(#100) ${message}`, { subcode }),
  nonexistingField: (field: string, nodeType: string) => new GraphError(100, `(#100) Tried accessing nonexisting field (${field}) on node type (${nodeType})`),
  permission: (scope: string, code = 200) => new GraphError(code, `(#${code}) Requires ${scope} permission to manage the object`),
};

/** Canonical 190 messages per subcode (what a revoked or invalidated session says). */
export function revokedMessage(subcode: number, appId: string, reason?: string): string {
  switch (subcode) {
    case 458: return `Error validating access token: The user has not authorized application ${appId}.`;
    case 459: return 'Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.';
    case 460: return 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.';
    case 464: return 'Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.';
    case 467: return 'Error validating access token: The session is invalid because the user logged out.';
    default: return `Error validating access token: ${reason ?? 'The session has been invalidated.'}`;
  }
}
