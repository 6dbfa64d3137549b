// k6/execution: the VU's ids and iteration counters, its scenario, and test.abort/fail.
import { counters, requestAbort, vuInfo } from '../vu-runtime.mjs';

export const vu = {
  get idInTest() { return vuInfo.idInTest; },
  get idInInstance() { return vuInfo.idInTest; },
  get iterationInScenario() { return counters.iterationInScenario; },
  get iterationInInstance() { return counters.iterationInInstance; },
  tags: {},
  metrics: { tags: {}, metadata: {} },
};

export const scenario = {
  get name() { return vuInfo.scenario; },
  get executor() { return vuInfo.executor; },
  get startTime() { return vuInfo.scenarioStartTime; },
  get progress() { return 0; },
  get iterationInInstance() { return counters.iterationInScenario; },
  get iterationInTest() { return counters.iterationInScenario; },
};

export const instance = {
  iterationsInterrupted: 0,
  iterationsCompleted: 0,
  vusActive: 0,
  vusInitialized: 0,
  currentTestRunDuration: 0,
};

export const test = {
  abort(reason) {
    requestAbort(reason ?? 'test.abort() called');
    throw new Error(`test aborted: ${reason ?? ''}`);
  },
  fail(message) {
    requestAbort(`test.fail(): ${message ?? ''}`);
  },
  options: {},
};

export default { vu, scenario, instance, test };
