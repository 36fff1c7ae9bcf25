// Sandbox test helpers: a sandbox instance per test file, and a real HTTP receiver that stands in
// for our webhook endpoint, keeping the raw bytes and headers of everything delivered to it.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type SandboxOptions } from '../../sandbox/sandbox';

export async function useSandbox(opts: SandboxOptions = {}) {
  const sandbox = await startSandbox({ world: { conversations: 2, messagesPerConversation: 3 }, delivery: { retryDelaysMs: [50, 100, 200], timeoutMs: 2000 }, hangMs: 1500, ...opts });
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sandbox.url}/__admin${path}`, {
      method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  return { sandbox, url: sandbox.url, admin, close: () => sandbox.close() };
}

export interface ReceivedWebhook { method: string; url: string; headers: IncomingHttpHeaders; body: string; at: number }

/** A webhook endpoint on a free port; `respond` decides the status for each delivery. */
export async function webhookReceiver(respond: (req: ReceivedWebhook, index: number) => number | Promise<number> = () => 200) {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(entry);
      const status = await respond(entry, received.length - 1);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'EVENT_RECEIVED' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async waitFor(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhook deliveries, got ${received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
