// `npm test`: one real Temporal dev server and one real FerretDB for the whole run (unless
// TEMPORAL_ADDRESS / MONGODB_URI name running ones), then node's test runner over test/**,
// then everything stopped and removed. Extra arguments narrow the files: `npm test -- test/unit`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, type Service } from './stack/processes';
import { startFerretDB, startTemporal } from './stack/services';
import { ROOT } from './stack/tools';

function testFiles(roots: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const entry of readdirSync(p).sort()) walk(path.join(p, entry));
    else if (p.endsWith('.test.ts')) out.push(path.relative(ROOT, p));
  };
  for (const root of roots) walk(path.resolve(ROOT, root));
  return out;
}

async function main() {
  const files = testFiles(process.argv.length > 2 ? process.argv.slice(2) : ['test']);
  if (files.length === 0) throw new Error('no test files found');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
  const services: Service[] = [];
  const cleanup = async () => {
    for (const s of services.reverse()) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  let code = 1;
  try {
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    if (!temporalAddress) {
      const port = await freePort();
      services.push(await startTemporal({ port, uiPort: null }));
      temporalAddress = `127.0.0.1:${port}`;
    }
    let mongodbUri = process.env.MONGODB_URI;
    if (!mongodbUri) {
      const port = await freePort();
      services.push(await startFerretDB({ port, dataDir: path.join(tmp, 'ferretdb') }));
      mongodbUri = `mongodb://127.0.0.1:${port}/`;
    }
    process.stdout.write(`# Temporal ${temporalAddress}, MongoDB ${mongodbUri.replace(/\/\/[^@]*@/, '//…@')}\n`);

    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, NODE_ENV: 'test', TEMPORAL_ADDRESS: temporalAddress, MONGODB_URI: mongodbUri, SWITCHBOARD_TEST_TMP: tmp },
    });
    code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  } catch (err) {
    process.stderr.write(`test setup failed: ${(err as Error).stack ?? err}\n`);
  } finally {
    await cleanup();
  }
  process.exit(code);
}

void main();
