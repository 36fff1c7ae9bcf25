// The HTTP load generator, run as its own process so it does not share a CPU with the API it
// measures: autocannon posting prepared requests (one after another, each once) at a fixed overall
// rate or as fast as `connections` allow. Usage: load.ts <job.json> <result.json>.
//   job: { url, path, requests: [{ body, headers }], rate (0 = as fast as possible), connections, timeoutSeconds }
// The result has autocannon's figures plus, for every prepared request, when it was sent (ms since
// epoch), so the caller can measure end-to-end latency per request.
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  path: string;
  requests: { body: string; headers: Record<string, string> }[];
  rate: number;
  connections: number;
  timeoutSeconds?: number;
}

export interface LoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationMs: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  sentAt: number[];
}

async function main() {
  const [jobFile, resultFile] = process.argv.slice(2);
  const job = JSON.parse(readFileSync(jobFile!, 'utf8')) as LoadJob;
  const sentAt = new Array<number>(job.requests.length).fill(0);
  let next = 0;
  const started = Date.now();
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    ...(job.rate > 0 ? { overallRate: job.rate } : {}),
    amount: job.requests.length,
    timeout: job.timeoutSeconds ?? 10,
    requests: [{
      method: 'POST',
      path: job.path,
      setupRequest: (req) => {
        const i = next++;
        const r = job.requests[i % job.requests.length]!;
        if (i < sentAt.length) sentAt[i] = Date.now();
        return { ...req, body: r.body, headers: { ...req.headers, ...r.headers } };
      },
    }],
  });
  const out: LoadResult = {
    // autocannon's own "sent" also counts requests it started after the amount was reached.
    sent: Math.min(result.requests.sent, job.requests.length),
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationMs: Date.now() - started,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
    sentAt,
  };
  writeFileSync(resultFile!, JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`load generator failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
