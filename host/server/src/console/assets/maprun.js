// A distributed Map's Map Runs on the execution page: each run's status,
// item counts by status (DescribeMapRun) and its child executions
// (ListExecutions with the run's mapRunArn), each a link to its own page.

import { sfn, sfnAll } from './api.js';
import { h, link, paths, statusBadge } from './ui.js';

// Child executions listed per Map Run (ListExecutions' first page).
const CHILDREN_SHOWN = 100;

const COUNTS = [['total', 'Items'], ['pending', 'Pending'], ['running', 'Running'], ['succeeded', 'Succeeded'],
  ['failed', 'Failed'], ['timedOut', 'Timed out'], ['aborted', 'Aborted']];

// The execution's Map Runs, described (none unless its history started one).
export async function loadMapRuns(executionArn, events) {
  if (!events.some((e) => e.type === 'MapRunStarted')) return [];
  const runs = await sfnAll('ListMapRuns', { executionArn, maxResults: 1000 }, 'mapRuns');
  return Promise.all(runs.map(async (r) => {
    const [desc, children] = await Promise.all([
      sfn('DescribeMapRun', { mapRunArn: r.mapRunArn }),
      sfn('ListExecutions', { mapRunArn: r.mapRunArn, maxResults: CHILDREN_SHOWN }),
    ]);
    return { ...desc, children: children.executions || [], more: Boolean(children.nextToken) };
  }));
}

// `…:mapRun:MACHINE/LABEL:ID` → LABEL (the Map state's name unless it has a Label).
function label(mapRunArn) {
  const rest = mapRunArn.split(':mapRun:')[1] || mapRunArn;
  return rest.split(':')[0].split('/').slice(1).join('/') || rest;
}

function children(run, open) {
  const shown = `${run.children.length}${run.more ? '+' : ''} child execution(s)`;
  return h('details', { class: 'map-run-children', open }, h('summary', {}, shown),
    h('ul', {}, run.children.map((c) => h('li', { 'data-child': c.executionArn },
      link(paths.execution(c.executionArn), c.name), ' ', statusBadge(c.status)))));
}

// The runs as a table; `open`: the ARNs of runs whose child list is unfolded.
export function mapRunsTable(runs, open = new Set()) {
  if (!runs.length) return h('p', { class: 'muted' }, 'No Map Run (no distributed Map state ran).');
  const head = ['Map Run', 'Status', ...COUNTS.map(([, title]) => title), 'Results written', 'Executions'];
  const row = (r) => h('tr', { 'data-map-run': r.mapRunArn, 'data-status': r.status },
    h('td', { title: r.mapRunArn }, label(r.mapRunArn)),
    h('td', {}, statusBadge(r.status)),
    COUNTS.map(([key]) => h('td', { 'data-count': key }, String((r.itemCounts || {})[key] ?? 0))),
    h('td', {}, String((r.itemCounts || {}).resultsWritten ?? 0)),
    h('td', {}, children(r, open.has(r.mapRunArn))));
  return h('table', { id: 'map-run-table' }, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
    h('tbody', {}, runs.map(row)));
}
