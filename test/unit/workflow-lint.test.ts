// The linter is what keeps workflow code deterministic: prove it refuses what it must.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: ROOT });

async function lint(code: string, file: string) {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.map((m) => m.message);
}

describe('workflow import rule', () => {
  it('refuses Node built-ins, database and activity modules in workflows/', async () => {
    for (const source of [`import fs from 'node:fs';`, `import mongoose from 'mongoose';`, `import { createActivities } from '../activities';`]) {
      const messages = await lint(`${source}\nexport const x = 1;\n`, 'workflows/example.ts');
      assert.ok(messages.some((m) => /Workflow code may import only/.test(m)), `${source} was allowed: ${messages}`);
    }
  });

  it('refuses Node globals in workflows/', async () => {
    const messages = await lint(`export const x = () => process.env.X;\n`, 'workflows/example.ts');
    assert.ok(messages.some((m) => /process/.test(m)));
  });

  it('allows the workflow SDK, pure modules and type-only imports', async () => {
    const code = [
      `import { proxyActivities } from '@temporalio/workflow';`,
      `import type { Activities } from '../activities';`,
      `import { PLATFORMS } from '../lib/domain/channel';`,
      `export const a = proxyActivities<Activities>({ startToCloseTimeout: '1s' });`,
      `export const p = PLATFORMS;`,
    ].join('\n');
    assert.deepEqual(await lint(code, 'workflows/example.ts'), []);
  });

  it('does not restrict code outside workflows/', async () => {
    assert.deepEqual(await lint(`import fs from 'node:fs';\nexport const f = fs.readFileSync;\n`, 'activities/example.ts'), []);
  });
});
