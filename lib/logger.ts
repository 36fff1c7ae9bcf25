// pino JSON logs; secrets are redacted by key wherever they appear in a logged object.
import pino, { type Logger } from 'pino';

/** Keys whose values are never written to a log, at the top level or nested up to 3 levels. */
const SECRET_KEYS = [
  'authorization', 'Authorization', 'cookie', 'password', 'pass', 'secret', 'appSecret', 'app_secret',
  'clientSecret', 'client_secret', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token',
  'apiKey', 'api_key', 'authToken', 'auth_token', 'credentials', 'verifyToken', 'verify_token',
  'apiKeySecret', 'webhookAuthToken', 'pushToken', 'tiktok-signature', 'encryptionKeys', 'ENCRYPTION_KEYS', 'x-hub-signature-256', 'x-twilio-signature',
];

export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const dot = k.startsWith('[') ? k : `.${k}`;
  return [k, `*${dot}`, `*.*${dot}`, `*.*.*${dot}`];
});

export function createLogger(opts: { name: string; level?: string; pretty?: 'auto' | 'true' | 'false' }, destination?: pino.DestinationStream): Logger {
  const pretty = opts.pretty === 'true' || (opts.pretty !== 'false' && process.stdout.isTTY && !destination);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    },
    destination,
  );
}
