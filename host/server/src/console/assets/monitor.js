// A state machine's monitoring, from its executions (ListExecutions): how
// many by status over time, duration percentiles, errors by name (from
// DescribeExecution of the latest failed ones).

import { sfn } from './api.js';
import { h, table, duration } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'RUNNING'];
const COLORS = { SUCCEEDED: '#16a34a', FAILED: '#dc2626', TIMED_OUT: '#9333ea', ABORTED: '#ea580c', RUNNING: '#2563eb' };
const BUCKETS = 24;
const ERROR_SAMPLE = 50;

export function percentile(sorted, q) {
  if (!sorted.length) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export async function monitoring(executions) {
  const durations = executions.filter((e) => e.stopDate).map((e) => (e.stopDate - e.startDate) * 1000).sort((a, b) => a - b);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, executions.filter((e) => e.status === s).length]));
  const failed = executions.filter((e) => e.status === 'FAILED' || e.status === 'TIMED_OUT').slice(0, ERROR_SAMPLE);
  const described = await Promise.all(failed.map((e) => sfn('DescribeExecution', { executionArn: e.executionArn })));
  const errors = new Map();
  for (const d of described) errors.set(d.error || '(none)', (errors.get(d.error || '(none)') || 0) + 1);
  return h('div', { id: 'monitoring' },
    chart(executions),
    h('div', { class: 'pair' },
      table(['Status', 'Executions'], STATUSES.map((s) => [s, String(counts[s])]), { id: 'status-counts' }),
      table(['Duration', 'Value'], [['p50', 0.5], ['p90', 0.9], ['p99', 0.99], ['max', 1]]
        .map(([label, q]) => [label, duration(percentile(durations, q))]), { id: 'durations' })),
    h('h3', {}, `Errors by name (latest ${failed.length} failed executions)`),
    table(['Error', 'Executions'], [...errors.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, String(v)]), { id: 'errors' }));
}

// Executions started per time bucket, stacked by status.
function chart(executions) {
  const width = 720, height = 160, pad = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + pad}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('width', width);
  if (!executions.length) return svg;
  const starts = executions.map((e) => e.startDate);
  const from = Math.min(...starts), to = Math.max(...starts) + 1e-3;
  const step = (to - from) / BUCKETS;
  const buckets = Array.from({ length: BUCKETS }, () => Object.fromEntries(STATUSES.map((s) => [s, 0])));
  for (const e of executions) {
    const b = buckets[Math.min(BUCKETS - 1, Math.floor((e.startDate - from) / step))];
    if (e.status in b) b[e.status] += 1;
  }
  const max = Math.max(1, ...buckets.map((b) => STATUSES.reduce((n, s) => n + b[s], 0)));
  const bw = (width - pad) / BUCKETS;
  buckets.forEach((b, i) => {
    let y = height;
    for (const s of STATUSES) {
      if (!b[s]) continue;
      const bh = (b[s] / max) * (height - 10);
      y -= bh;
      const r = document.createElementNS(SVG, 'rect');
      Object.entries({ x: pad + i * bw + 1, y, width: bw - 2, height: bh, fill: COLORS[s], 'data-status': s }).forEach(([k, v]) => r.setAttribute(k, v));
      const t = document.createElementNS(SVG, 'title');
      t.textContent = `${b[s]} ${s}`;
      r.append(t);
      svg.append(r);
    }
  });
  const label = (x, y, text, anchor = 'start') => {
    const t = document.createElementNS(SVG, 'text');
    Object.entries({ x, y, 'font-size': 10, 'text-anchor': anchor }).forEach(([k, v]) => t.setAttribute(k, v));
    t.textContent = text;
    svg.append(t);
  };
  label(pad - 4, 12, String(max), 'end');
  label(pad, height + 14, new Date(from * 1000).toISOString().slice(11, 19));
  label(width, height + 14, new Date(to * 1000).toISOString().slice(11, 19), 'end');
  return svg;
}
