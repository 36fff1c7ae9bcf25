// Scenario `db-restart`: FerretDB is stopped and started again on its SQLite directory while
// customers write and agents reply. Webhooks that find the database gone are not acknowledged
// (503) and the platform delivers them again; activities fail and Temporal retries them; sends
// posted meanwhile get a 5xx and are posted again with the same Idempotency-Key. Nothing
// acknowledged before the stop may be missing after it. The API and worker reconnect by
// themselves, or exit; a supervisor would start them again (reported). See restartScenario.
import { restartScenario, type ChaosScenario } from '../lib/scenario';

export const scenario: ChaosScenario = restartScenario({
  name: 'db-restart',
  description: 'restart of the database (FerretDB, SQLite directory kept) mid-run',
  downWhat: 'the database',
  tag: 'dbrestart',
  restart: (stack, downMs) => stack.restartDatabase(downMs),
  fault: (down) => `faults: FerretDB stopped and restarted on its files (down ${down} s)`,
});
