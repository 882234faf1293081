// /console/state-machines/{ARN}: the graph, the start form, the executions.

import { sfn, sfnAll } from './api.js';
import { renderGraph } from './graph.js';
import { monitoring } from './monitor.js';
import { prices, expressCost, money } from './cost.js';
import { h, link, paths, section, table, when, statusBadge, jsonField, jsonBlock, errorBox, navigate } from './ui.js';

export async function machine(arn) {
  const sm = await sfn('DescribeStateMachine', { stateMachineArn: arn });
  document.title = `${sm.name} · stepbox console`;
  const graph = await renderGraph(sm.definition);
  const executions = sm.type === 'EXPRESS' ? [] : await sfnAll('ListExecutions', { stateMachineArn: arn }, 'executions', 1000);
  const monitor = sm.type === 'EXPRESS' ? h('p', { class: 'muted' }, 'Express executions are not listed.') : await monitoring(executions);
  return {
    node: h('div', {},
      h('h1', {}, sm.name, ' ', h('span', { class: 'badge' }, sm.type)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, sm.stateMachineArn)),
        h('dt', {}, 'Role'), h('dd', {}, h('code', {}, sm.roleArn || '')),
        h('dt', {}, 'Created'), h('dd', {}, when(sm.creationDate))),
      section('Graph', graph),
      section('Start an execution', startForm(sm)),
      section('Monitoring', monitor),
      section('Executions', table(['Name', 'Status', 'Started', 'Stopped'],
        executions.map((e) => [link(paths.execution(e.executionArn), e.name), statusBadge(e.status), when(e.startDate), when(e.stopDate)]),
        { id: 'executions' })),
      section('Definition', h('details', {}, h('summary', {}, 'JSON'), h('pre', { class: 'json' }, sm.definition))),
    ),
  };
}

function startForm(sm) {
  const input = jsonField('input', '{}', 8);
  const name = h('input', { name: 'name', placeholder: 'optional: a name (else a UUID)', size: 40 });
  const button = h('button', { type: 'submit', id: 'start-execution' }, 'Start execution');
  const outcome = h('div', { class: 'outcome' });
  const form = h('form', { id: 'start-form', class: 'stack' },
    h('label', {}, 'Input (JSON)', input.area), input.message, h('label', {}, 'Name ', name), button, outcome);
  input.area.addEventListener('validity', () => { button.disabled = !input.valid(); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!input.valid()) return;
    button.disabled = true;
    try {
      const params = { stateMachineArn: sm.stateMachineArn, input: input.text() };
      if (name.value.trim()) params.name = name.value.trim();
      if (sm.type === 'EXPRESS') {
        const r = await sfn('StartSyncExecution', params);
        const p = await prices();
        const billed = r.billingDetails || {};
        const cost = expressCost(billed.billedDurationInMilliseconds || 0, billed.billedMemoryUsedInMB || 64, p);
        outcome.replaceChildren(h('p', {}, statusBadge(r.status), ` would cost ${money(cost, p)} on AWS`), jsonBlock(r.output || r.cause || ''));
      } else {
        const r = await sfn('StartExecution', params);
        navigate(paths.execution(r.executionArn));
      }
    } catch (e) {
      outcome.replaceChildren(errorBox(e));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
