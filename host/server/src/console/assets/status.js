// What an execution's history says about each state: its status (the
// graph's data-status), input, output, error, cause, retries and assigned
// variables. A state inside a Map is one node for all its iterations.
//
// Status: RUNNING while any of its runs is in it; else FAILED when a failure
// left it uncaught, CAUGHT_ERROR when a Catch took it elsewhere, RETRIED when
// it succeeded after a retry, SUCCEEDED when it exited, NOT_STARTED when it
// was never entered.

const FAILURE = /(Failed|TimedOut)$/;
const ATTEMPT = /(Scheduled|StateStarted)$/;

function details(event) {
  for (const [k, v] of Object.entries(event)) {
    if (k.endsWith('EventDetails') && v && typeof v === 'object') return v;
  }
  return {};
}

// The state each event belongs to: a StateEntered/Exited names it; a Map's
// or Parallel's own events (MapStateFailed, …) belong to the innermost such
// state still open; other events to their previousEventId's state.
function owners(events) {
  const byId = new Map();
  const typeOf = new Map();
  const open = { Map: [], Parallel: [] };
  for (const e of events) {
    typeOf.set(e.id, e.type);
    let owner = null;
    const group = /^(Map|Parallel)(State|Run)/.exec(e.type);
    if (e.type.endsWith('StateEntered')) {
      owner = e.stateEnteredEventDetails.name;
      if (group) open[group[1]].push(owner);
    } else if (e.type.endsWith('StateExited')) {
      owner = e.stateExitedEventDetails.name;
      if (group) {
        const stack = open[group[1]];
        const at = stack.lastIndexOf(owner);
        if (at >= 0) stack.splice(at, 1);
      }
    } else if (group) {
      const stack = open[group[1]];
      owner = stack.length ? stack[stack.length - 1] : null;
    } else if (!e.type.startsWith('Execution') && !e.type.startsWith('MapIteration')) {
      const prev = typeOf.get(e.previousEventId);
      if (prev && !prev.endsWith('StateExited')) owner = byId.get(e.previousEventId) ?? null;
    }
    byId.set(e.id, owner);
  }
  return byId;
}

export function analyse(events, executionStatus) {
  const states = new Map();
  const info = (name) => {
    if (!states.has(name)) {
      states.set(name, { name, entered: 0, active: 0, exited: 0, retries: 0, pending: false, caught: false, failed: false, lastEvent: 0 });
    }
    return states.get(name);
  };
  const owner = owners(events);
  for (const e of events) {
    const name = owner.get(e.id);
    if (!name) continue;
    const s = info(name);
    const d = details(e);
    s.lastEvent = e.id;
    if (e.type.endsWith('StateEntered')) {
      s.entered += 1; s.active += 1; s.input = d.input;
    } else if (e.type.endsWith('StateExited')) {
      s.active = Math.max(0, s.active - 1); s.exited += 1; s.output = d.output;
      if (d.assignedVariables) s.assigned = d.assignedVariables;
      if (s.pending) { s.caught = true; s.pending = false; }
    } else if (FAILURE.test(e.type)) {
      s.pending = true; s.error = d.error; s.cause = d.cause;
    } else if (ATTEMPT.test(e.type) && s.pending) {
      s.retries += 1; s.pending = false;
    }
  }
  const running = executionStatus === 'RUNNING';
  for (const s of states.values()) {
    if (s.pending && !running) s.failed = true;
    if (running && s.active > 0) s.status = 'RUNNING';
    // A failure nothing caught, or the execution ended in it (a Fail state).
    else if (s.failed || s.active > 0 || (s.pending && !running)) s.status = 'FAILED';
    else if (s.caught) s.status = 'CAUGHT_ERROR';
    else if (s.retries > 0) s.status = 'RETRIED';
    else if (s.exited > 0) s.status = 'SUCCEEDED';
    else s.status = 'NOT_STARTED';
  }
  return { states, owner };
}

// Item counts of each Map state's iterations.
export function mapRuns(events, owner) {
  const runs = new Map();
  const run = (name) => {
    if (!runs.has(name)) runs.set(name, { name, items: 0, started: 0, succeeded: 0, failed: 0, aborted: 0, mapRunArn: null });
    return runs.get(name);
  };
  const mapOf = new Map();
  for (const e of events) {
    const d = details(e);
    if (e.type === 'MapStateStarted') {
      const r = run(owner.get(e.id));
      r.items += d.length || 0;
    } else if (e.type === 'MapRunStarted') {
      run(owner.get(e.id)).mapRunArn = d.mapRunArn;
    } else if (e.type.startsWith('MapIteration')) {
      const name = d.name || mapOf.get(e.previousEventId);
      if (!name) continue;
      mapOf.set(e.id, name);
      const r = run(name);
      if (e.type === 'MapIterationStarted') r.started += 1;
      if (e.type === 'MapIterationSucceeded') r.succeeded += 1;
      if (e.type === 'MapIterationFailed') r.failed += 1;
      if (e.type === 'MapIterationAborted') r.aborted += 1;
    }
  }
  return [...runs.values()];
}

export { details };
