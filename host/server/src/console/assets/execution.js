// /console/executions/{ARN}: the graph with each state's status, updated
// every POLL_MS while the execution runs; the selected state's details; the
// tasks waiting on a token (approve, reject); Map item counts and Map Runs;
// the history, of which each poll reads only the last page and what follows.

import { sfn, consoleGet } from './api.js';
import { renderGraph, applyStatuses } from './graph.js';
import { analyse, mapRuns, details } from './status.js';
import { h, link, paths, section, table, when, duration, statusBadge, jsonBlock, jsonField, errorBox, pretty } from './ui.js';
import { invocationsTable } from './function.js';
import { loadMapRuns, mapRunsTable } from './maprun.js';
import { prices, transitions, standardCost, lambdaCost, money } from './cost.js';

const POLL_MS = 500;
// GetExecutionHistory's page size.
const PAGE = 1000;

export async function execution(arn) {
  const [first, machine] = await Promise.all([
    sfn('DescribeExecution', { executionArn: arn }),
    sfn('DescribeStateMachineForExecution', { executionArn: arn }),
  ]);
  document.title = `${first.name} · stepbox console`;
  const view = {
    arn, desc: first, events: [], states: new Map(), owner: new Map(), selected: null, stopped: false, timer: null,
    pageToken: undefined, pageStart: 0, mapRuns: [],
    header: h('div', { class: 'exec-header' }),
    panel: h('div', { class: 'state-panel', id: 'state-panel' }),
    waiting: h('div', { id: 'waiting' }),
    maps: h('div', { id: 'map-states' }),
    runs: h('div', { id: 'map-runs' }),
    io: h('div', { class: 'io' }),
    history: h('tbody', {}),
    message: h('div', { class: 'outcome' }),
    cost: h('div', { id: 'cost' }),
    prices: await prices(),
  };
  view.graph = await renderGraph(machine.definition, (name) => { view.selected = name; draw(view); });
  const node = h('div', {},
    view.header, view.message,
    h('div', { class: 'exec-main' }, h('div', { class: 'graph-wrap' }, view.graph), view.panel),
    section('Waiting for a task token', view.waiting),
    section('Transitions and cost', view.cost),
    section('Map states', view.maps),
    section('Map Runs', view.runs),
    section('Input and output', view.io),
    section('Event history', h('table', { id: 'history' },
      h('thead', {}, h('tr', {}, ['ID', 'Type', 'State', 'Elapsed', 'Details'].map((c) => h('th', {}, c)))), view.history)),
  );
  await refresh(view);
  poll(view);
  return { node, stop: () => { view.stopped = true; clearTimeout(view.timer); } };
}

function poll(view) {
  if (view.stopped) return;
  view.timer = setTimeout(async () => {
    if (view.stopped) return;
    const wasRunning = view.desc.status === 'RUNNING';
    try {
      if (wasRunning) await refresh(view);
    } catch (e) {
      view.message.replaceChildren(errorBox(e));
    }
    if (view.desc.status === 'RUNNING') poll(view);
  }, POLL_MS);
}

// The history: the pages read before the last one are kept; the last one
// (its token kept) is read again with whatever follows it, so a poll of a
// long history moves at most one page and the new events.
async function history(view) {
  let [token, start] = [view.pageToken, view.pageStart];
  const events = view.events.slice(0, start);
  for (;;) {
    const page = await sfn('GetExecutionHistory', { executionArn: view.arn, maxResults: PAGE, ...(token ? { nextToken: token } : {}) });
    events.push(...page.events);
    if (!page.nextToken) break;
    [token, start] = [page.nextToken, events.length];
  }
  [view.pageToken, view.pageStart] = [token, start];
  return events;
}

async function refresh(view) {
  const arn = encodeURIComponent(view.arn);
  const [desc, events, tokens, invocations] = await Promise.all([
    sfn('DescribeExecution', { executionArn: view.arn }),
    history(view),
    consoleGet(`task-tokens?executionArn=${arn}`).then((r) => r.tokens),
    consoleGet(`invocations?executionArn=${arn}`).then((r) => r.invocations),
  ]);
  view.mapRuns = await loadMapRuns(view.arn, events);
  view.desc = desc;
  view.invocations = invocations;
  const { states, owner } = analyse(events, desc.status);
  view.states = states;
  view.owner = owner;
  if (!view.selected || !states.has(view.selected)) {
    const latest = [...states.values()].sort((a, b) => b.lastEvent - a.lastEvent)[0];
    view.selected = latest ? latest.name : null;
  }
  if (events.length !== view.events.length) drawHistory(view, events, view.events.length);
  view.events = events;
  drawWaiting(view, tokens);
  draw(view);
  document.body.dataset.executionStatus = desc.status;
}

function draw(view) {
  applyStatuses(view.graph, view.states, view.selected);
  drawHeader(view);
  drawPanel(view);
  drawCost(view);
  view.maps.replaceChildren(table(['Map state', 'Items', 'Started', 'Succeeded', 'Failed', 'Aborted'],
    mapRuns(view.events, view.owner).map((r) => [r.name, r.items, r.started, r.succeeded, r.failed, r.aborted])));
  const open = new Set([...view.runs.querySelectorAll('tr[data-map-run]')]
    .filter((tr) => tr.querySelector('details[open]')).map((tr) => tr.dataset.mapRun));
  view.runs.replaceChildren(mapRunsTable(view.mapRuns, open));
  const d = view.desc;
  view.io.replaceChildren(h('div', { class: 'pair' },
    h('div', {}, h('h3', {}, 'Input'), jsonBlock(d.input)),
    h('div', {}, h('h3', {}, d.error ? 'Error' : 'Output'),
      d.error ? h('div', {}, h('p', {}, h('strong', {}, d.error)), jsonBlock(d.cause)) : jsonBlock(d.output))));
}

function drawCost(view) {
  const p = view.prices;
  const n = transitions(view.events);
  const fns = view.invocations || [];
  view.cost.replaceChildren(table(['', 'Count', 'On AWS'], [
    ['State transitions (Standard)', String(n), money(standardCost(n, p), p)],
    ['Lambda invocations (recorded)', String(fns.length), money(lambdaCost(fns, p), p)],
  ]), h('p', { class: 'muted' }, p.source));
}

function drawHeader(view) {
  const d = view.desc;
  const end = d.stopDate ? d.stopDate : Date.now() / 1000;
  const buttons = [];
  if (d.status === 'RUNNING') {
    buttons.push(h('button', { id: 'stop-execution', onclick: () => act(view, () => sfn('StopExecution', { executionArn: view.arn })) }, 'Stop'));
  }
  if (d.redriveStatus === 'REDRIVABLE') {
    buttons.push(h('button', { id: 'redrive-execution', onclick: () => act(view, () => sfn('RedriveExecution', { executionArn: view.arn })) }, 'Redrive'));
  }
  view.header.replaceChildren(
    h('h1', {}, d.name, ' ', statusBadge(d.status)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'State machine'), h('dd', {}, link(paths.machine(d.stateMachineArn), d.stateMachineArn.split(':').pop())),
      h('dt', {}, 'Started'), h('dd', {}, when(d.startDate)),
      h('dt', {}, 'Duration'), h('dd', {}, duration((end - d.startDate) * 1000)),
      h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, d.executionArn))),
    h('div', { class: 'buttons' }, buttons));
}

async function act(view, call) {
  try {
    await call();
    view.message.replaceChildren();
    await refresh(view);
    poll(view);
  } catch (e) {
    view.message.replaceChildren(errorBox(e));
  }
}

function drawPanel(view) {
  const s = view.states.get(view.selected);
  if (!s) {
    view.panel.replaceChildren(h('p', { class: 'muted' }, 'Select a state in the graph.'));
    return;
  }
  const field = (label, value) => (value === undefined ? null : [h('h3', {}, label), jsonBlock(value)]);
  view.panel.replaceChildren(h('div', {},
    h('h2', {}, s.name, ' ', statusBadge(s.status)),
    h('p', {}, `Entered ${s.entered} time(s), retried ${s.retries} time(s)`),
    s.error !== undefined ? [h('h3', {}, 'Error'), h('p', { class: 'error-name' }, s.error || '')] : null,
    field('Cause', s.cause),
    field('Input', s.input),
    field('Output', s.output),
    logs(view, s.name),
    s.assigned ? [h('h3', {}, 'Assigned variables'),
      table(['Variable', 'Value'], Object.entries(s.assigned).map(([k, v]) => [k, h('pre', { class: 'json' }, pretty(v))]))] : null,
  ));
  view.panel.dataset.state = s.name;
}

function drawWaiting(view, tokens) {
  const key = tokens.map((t) => t.taskToken).join(',');
  if (view.waitingKey === key) return;
  view.waitingKey = key;
  view.waiting.replaceChildren(...(tokens.length ? tokens.map((t) => approval(view, t)) : [h('p', { class: 'muted' }, 'No task waits for a token.')]));
}

function approval(view, t) {
  const output = jsonField('output', '{"approved": true}', 3);
  const error = h('input', { name: 'error', value: 'Rejected', size: 20 });
  const cause = h('input', { name: 'cause', placeholder: 'cause', size: 40 });
  const approve = h('button', { class: 'approve', onclick: () => {
    if (output.valid()) act(view, () => sfn('SendTaskSuccess', { taskToken: t.taskToken, output: output.text() }));
  } }, 'Approve');
  output.area.addEventListener('validity', () => { approve.disabled = !output.valid(); });
  const reject = h('button', { class: 'reject', onclick: () => act(view, () =>
    sfn('SendTaskFailure', { taskToken: t.taskToken, error: error.value, cause: cause.value })) }, 'Reject');
  return h('div', { class: 'approval', 'data-waiting-state': t.stateName, 'data-token': t.taskToken },
    h('h3', {}, t.stateName),
    h('div', { class: 'pair' },
      h('div', { class: 'stack' }, h('label', {}, 'Output (JSON)', output.area), output.message, approve),
      h('div', { class: 'stack' }, h('label', {}, 'Error ', error), h('label', {}, 'Cause ', cause), reject)));
}

// Appends the rows of events from index `from` on (a history only grows;
// the rows drawn before, and which of them are unfolded, stay).
function drawHistory(view, events, from) {
  const start = events.length ? events[0].timestamp : 0;
  if (from > events.length || view.history.rows.length !== from) {
    view.history.replaceChildren();
    from = 0;
  }
  view.history.append(...events.slice(from).map((e) => h('tr', { 'data-event': e.type },
    h('td', {}, e.id), h('td', {}, e.type), h('td', {}, view.owner.get(e.id) || ''),
    h('td', {}, duration((e.timestamp - start) * 1000)),
    h('td', {}, h('details', { 'data-id': String(e.id) },
      h('summary', {}, summary(e)), jsonBlock(details(e)))))));
}

function summary(e) {
  const d = details(e);
  const text = d.error ? `${d.error}` : d.name || d.resource || '';
  return text || 'details';
}

// The selected state's function invocations, one per attempt, with their logs.
function logs(view, name) {
  const mine = (view.invocations || []).filter((i) => i.stateName === name);
  if (!mine.length) return null;
  return h('div', { class: 'state-logs' }, h('h3', {}, 'Invocations and logs'), invocationsTable(mine, false));
}
