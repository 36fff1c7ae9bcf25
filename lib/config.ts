// All configuration comes from environment variables, validated once at start-up so a bad value
// stops the process with a message that lists every problem, instead of failing later.
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);

const encryptionKeys = z
  .string()
  .min(1, 'is required: a comma-separated list of keyId:base64key (32-byte keys), the first one encrypts')
  .transform((value, ctx) => {
    const keys: { id: string; key: Buffer }[] = [];
    for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const sep = entry.indexOf(':');
      const id = entry.slice(0, sep);
      const key = Buffer.from(entry.slice(sep + 1), 'base64');
      if (sep <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        ctx.addIssue({ code: 'custom', message: 'each entry must be keyId:base64key with a 32-byte key' });
        return z.NEVER;
      }
      keys.push({ id, key });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'needs at least one keyId:base64key' });
      return z.NEVER;
    }
    return keys;
  });

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['auto', 'true', 'false']).default('auto'),

  API_HOST: z.string().default('0.0.0.0'),
  API_PORT: port.default(3000),
  PUBLIC_URL: z.url().optional(),

  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI'),

  TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('switchboard'),
  TEMPORAL_UI_URL: z.url().optional(),

  SANDBOX_URL: z.url().optional(),
  /** How often each channel syncs incrementally (webhooks bring most messages sooner). */
  SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(86_400).default(300),
  // How often the reconciliation schedule asks every channel for an incremental sync.
  RECONCILE_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  // Channel workflows one worker keeps in memory (default: the SDK's, from the heap size). Set it
  // at or above the channels the worker serves: an evicted workflow replays its history per sync.
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2).optional(),

  ENCRYPTION_KEYS: encryptionKeys,
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n(see .env.example)`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const message = issue.code === 'invalid_type' && env[name] === undefined ? 'is required' : issue.message;
    return `${name} ${message}`;
  });
  throw new ConfigError(problems);
}

/** For process entry points: load the config or print what is wrong and exit. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
