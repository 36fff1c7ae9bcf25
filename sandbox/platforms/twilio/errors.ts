// Twilio's REST error body `{"code","message","more_info","status"}` and the fault renderer.
import type { Context as HonoContext } from 'hono';
import type { FaultRenderer } from '../../core/context';

export class TwilioError extends Error {
  constructor(readonly status: number, readonly code: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export const twilioErrorBody = (code: number, message: string, status: number) => ({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

export function twilioErrorResponse(c: HonoContext, err: TwilioError): Response {
  return c.json(twilioErrorBody(err.code, err.message, err.status), err.status as 400, err.headers);
}

export const authenticateError = () => new TwilioError(401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });

export const twilioFaultRenderer: FaultRenderer = (c, decision) => {
  if (decision.kind === 'rate_limit') {
    return twilioErrorResponse(c, new TwilioError(429, 20429, 'Too Many Requests', { 'Retry-After': String(decision.retryAfterSeconds) }));
  }
  const status = decision.kind === 'error' ? decision.status : 500;
  const [code, message] =
    status === 401 ? [20003, 'Authenticate'] :
    status === 404 ? [20404, 'The requested resource was not found'] :
    status === 429 ? [20429, 'Too Many Requests'] :
    status === 503 ? [20503, 'Service Unavailable'] :
    status >= 500 ? [20500, 'An internal server error has occurred'] :
    [20001, 'Invalid request'];
  return twilioErrorResponse(c, new TwilioError(status, code, message, status === 429 ? { 'Retry-After': '1' } : {}));
};
