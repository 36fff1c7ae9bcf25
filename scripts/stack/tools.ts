// Where the external servers' binaries are: an override variable, or what install-tools.sh put
// in .tools/bin. A missing binary is a clear error naming the variable to set.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, '.tools', 'bin');

const TOOLS = {
  temporal: { variable: 'TEMPORAL_CLI_PATH', file: 'temporal', what: 'the Temporal CLI' },
  'temporal-test-server': { variable: 'TEMPORAL_TEST_SERVER_PATH', file: 'temporal-test-server', what: 'the Temporal time-skipping test server' },
  ferretdb: { variable: 'FERRETDB_PATH', file: 'ferretdb', what: 'FerretDB' },
} as const;

export function toolPath(tool: keyof typeof TOOLS, env: NodeJS.ProcessEnv = process.env): string {
  const spec = TOOLS[tool];
  const candidate = env[spec.variable] || path.join(BIN, spec.file);
  try {
    accessSync(candidate, constants.X_OK);
    return candidate;
  } catch {
    throw new Error(`${spec.what} is not installed at ${candidate}. Run \`npm run tools\`, or set ${spec.variable} to an existing binary.`);
  }
}
