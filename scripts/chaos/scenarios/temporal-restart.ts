// Scenario `temporal-restart`: the Temporal dev server is stopped and started again on its SQLite
// file while customers write and agents reply. Webhooks keep being acknowledged (the queue is in
// MongoDB); the wake-up signals sent while it is down fail and the next delivery wakes the channel
// again; sends posted meanwhile get a 5xx and are posted again; the worker reconnects (or, if it
// gave up, a supervisor starts it again and the exit is reported). Every workflow must carry on
// from where the database file left it. See restartScenario.
import { restartScenario, type ChaosScenario } from '../lib/scenario';

export const scenario: ChaosScenario = restartScenario({
  name: 'temporal-restart',
  description: 'restart of the Temporal dev server (persistent SQLite file) mid-run',
  downWhat: 'the server',
  tag: 'temporalrestart',
  restart: (stack, downMs) => stack.restartTemporal(downMs),
  fault: (down) => `faults: Temporal dev server stopped and restarted from its file (down ${down} s)`,
});
