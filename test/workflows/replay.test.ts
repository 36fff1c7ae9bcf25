// Replays every saved history (test/histories/*.json) against today's workflow code. A failure
// means the change is not deterministic for workflows already running: version it with patched().
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { ROOT, workflowBundle } from '../helpers/env';

const DIR = path.join(ROOT, 'test', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('replay of saved workflow histories', () => {
  it('has histories to replay', () => {
    assert.ok(files.length > 0, 'no saved histories in test/histories (npm run histories:record)');
  });

  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
    });
  }
});
