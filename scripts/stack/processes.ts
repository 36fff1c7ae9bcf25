// Child processes for the dev stack and the test runner: start, wait until they serve, stop
// them for sure (SIGTERM, then SIGKILL), and check ports before binding them.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';

export interface Service {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each output line; default: discarded (tests) — the dev stack prefixes and prints them. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export function startProcess(opts: StartOptions): Service {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    const rl = readline.createInterface({ input: child[stream]! });
    rl.on('line', (line) => opts.onLine?.(line, stream));
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(`spawn failed: ${err.message}`));
  });
  const watchdog = child.pid ? watchOverChild(child.pid) : undefined;
  void exited.then(() => watchdog?.kill());
  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    child,
    exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * If this process dies without stopping its children (SIGKILL, a crash), nothing else would: the
 * Temporal server, FerretDB and the rest would live on as orphans holding their ports. A tiny
 * shell per child blocks reading a pipe only we hold; when we die the pipe closes and it stops
 * the child (SIGTERM, then SIGKILL).
 */
function watchOverChild(pid: number): ChildProcess {
  const script = 'read _line; kill -TERM "$1" 2>/dev/null || exit 0; i=0; '
    + 'while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL "$1" 2>/dev/null; exit 0';
  const watchdog = spawn('sh', ['-c', script, 'switchboard-watchdog', String(pid)], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  watchdog.on('error', () => undefined);
  return watchdog;
}

export class PortInUseError extends Error {
  constructor(readonly port: number, what: string, variable?: string) {
    super(`port ${port} (${what}) is already in use${variable ? `; set ${variable} to use another port` : ''}`);
    this.name = 'PortInUseError';
  }
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function assertPortFree(port: number, what: string, variable?: string): Promise<void> {
  // Check both loopback and all interfaces: servers here bind one or the other.
  if (!(await isPortFree(port, '127.0.0.1')) || !(await isPortFree(port, '0.0.0.0'))) {
    throw new PortInUseError(port, what, variable);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; fails early if the service exits, or after `timeoutMs`. */
export async function waitUntil(service: Service | undefined, what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: number | string | undefined;
  void service?.exited.then((code) => { exit = code; });
  while (Date.now() < deadline) {
    if (exit !== undefined) throw new Error(`${service!.name} exited (${exit}) before ${what}`);
    if (await probe().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.ok;
}
