// GreenMail standalone (a real SMTP + IMAP server in Java) as a child process of one sandbox:
// free loopback ports, users from system properties, ready when both ports accept connections
// and the first mailbox can log in, stopped on close. A watchdog shell holds a pipe from this
// process and stops GreenMail if we die without closing (a killed test runner), so no JVM is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { freePort, startProcess, tcpOpen, waitUntil } from '../../../scripts/stack/processes';
import { ROOT } from '../../../scripts/stack/tools';
import { ImapClient } from './imap';

export interface GreenMailUser { address: string; password: string }

export interface GreenMailServer {
  host: string;
  smtpPort: number;
  imapPort: number;
  version: string;
  jar: string;
  startedInMs: number;
  pid: number;
  stop(): Promise<void>;
}

/** The jar: GREENMAIL_JAR, else what scripts/install-tools.sh put in .tools/lib. */
export function greenMailJar(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GREENMAIL_JAR) {
    if (!existsSync(env.GREENMAIL_JAR)) throw new Error(`GREENMAIL_JAR=${env.GREENMAIL_JAR} does not exist. Point it at a greenmail-standalone 2.1.x jar, or unset it and run \`npm run tools\`.`);
    return env.GREENMAIL_JAR;
  }
  const lib = path.join(ROOT, '.tools', 'lib');
  const jar = existsSync(lib) ? readdirSync(lib).filter((f) => /^greenmail-standalone-.*\.jar$/.test(f)).sort().pop() : undefined;
  if (!jar) throw new Error(`GreenMail (the email sandbox's SMTP/IMAP server) is not installed in ${lib}. Run \`npm run tools\`, or set GREENMAIL_JAR to an existing greenmail-standalone jar.`);
  return path.join(lib, jar);
}

export function javaPath(env: NodeJS.ProcessEnv = process.env): string {
  const fromHome = env.JAVA_HOME && path.join(env.JAVA_HOME, 'bin', 'java');
  return fromHome && existsSync(fromHome) ? fromHome : 'java';
}

export async function startGreenMail(opts: { users: GreenMailUser[]; log: Logger; host?: string; timeoutMs?: number }): Promise<GreenMailServer> {
  const jar = greenMailJar();
  const java = javaPath();
  const host = opts.host ?? '127.0.0.1';
  let lastError: Error | undefined;
  // A free port can be taken between our probe and Java's bind: then GreenMail exits and we retry.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const started = Date.now();
    const smtpPort = await freePort();
    let imapPort = await freePort();
    while (imapPort === smtpPort) imapPort = await freePort();
    const output: string[] = [];
    const service = startProcess({
      name: 'greenmail',
      command: java,
      args: [
        // A small, quick-starting JVM: one per sandbox instance, and tests run many in parallel.
        '-Xms16m', '-Xmx192m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xss512k', '-Djava.awt.headless=true',
        `-Dgreenmail.smtp.hostname=${host}`, `-Dgreenmail.smtp.port=${smtpPort}`,
        `-Dgreenmail.imap.hostname=${host}`, `-Dgreenmail.imap.port=${imapPort}`,
        // login:password@domain, with login = the whole address (greenmail.users.login=email).
        `-Dgreenmail.users=${opts.users.map((u) => `${u.address.split('@')[0]}:${u.password}@${u.address.split('@')[1]}`).join(',')}`,
        '-Dgreenmail.users.login=email',
        '-jar', jar,
      ],
      onLine: (line) => {
        output.push(line);
        if (output.length > 40) output.shift();
        opts.log.debug({ greenmail: line }, 'greenmail');
      },
    });
    const guard = watchdog(service.child);
    const stop = async () => {
      await service.stop(5000);
      guard.stdin?.end();
    };
    try {
      await waitUntil(service, 'GreenMail SMTP and IMAP', async () => (await tcpOpen(smtpPort, host)) && (await tcpOpen(imapPort, host)) && (await canLogin(host, imapPort, opts.users[0])), opts.timeoutMs ?? 30_000);
      const version = /GreenMail standalone v(\S+)/.exec(output.join('\n'))?.[1] ?? path.basename(jar).replace(/^greenmail-standalone-|\.jar$/g, '');
      const startedInMs = Date.now() - started;
      opts.log.info({ smtpPort, imapPort, version, startedInMs }, 'GreenMail started');
      return { host, smtpPort, imapPort, version, jar, startedInMs, pid: service.child.pid!, stop };
    } catch (err) {
      await stop();
      const spawnFailed = await service.exited;
      lastError = new Error(`${(err as Error).message}${String(spawnFailed).startsWith('spawn failed') ? ` (${spawnFailed}; is Java 17+ installed? set JAVA_HOME or put java on PATH)` : ''}${output.length ? `\nGreenMail output:\n${output.join('\n')}` : ''}`);
      if (String(spawnFailed).startsWith('spawn failed') || !/BindException|Address already in use/i.test(output.join('\n'))) break;
    }
  }
  throw lastError ?? new Error('GreenMail did not start');
}

async function canLogin(host: string, port: number, user: GreenMailUser | undefined): Promise<boolean> {
  if (!user) return true;
  const client = await ImapClient.connect({ host, port, timeoutMs: 2000 });
  try {
    await client.login(user.address, user.password);
    return true;
  } finally {
    await client.logout();
  }
}

/** A shell that waits for EOF on a pipe from us, then stops `child` if it still runs. */
function watchdog(child: ChildProcess): ChildProcess {
  const guard = spawn('sh', ['-c', 'read _line; kill -TERM "$1" 2>/dev/null || exit 0; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL "$1" 2>/dev/null; exit 0', 'greenmail-watchdog', String(child.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  guard.on('error', () => undefined);
  guard.stdin?.on('error', () => undefined);
  return guard;
}
