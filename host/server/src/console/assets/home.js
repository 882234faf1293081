// /console/: state machines, recent executions, functions, activities.

import { sfn, sfnAll, lambda } from './api.js';
import { h, link, paths, section, table, when, statusBadge } from './ui.js';

export async function home() {
  const [machines, activities, functions] = await Promise.all([
    sfnAll('ListStateMachines', {}, 'stateMachines'),
    sfnAll('ListActivities', {}, 'activities'),
    lambda('').then((r) => r.Functions || []),
  ]);
  const standard = machines.filter((m) => m.type !== 'EXPRESS');
  const lists = await Promise.all(standard.map((m) =>
    sfn('ListExecutions', { stateMachineArn: m.stateMachineArn, maxResults: 25 }).then((r) => r.executions || [])));
  const executions = lists.flat().sort((a, b) => b.startDate - a.startDate).slice(0, 50);
  document.title = 'stepbox console';
  return {
    node: h('div', {},
      section('State machines', table(['Name', 'Type', 'Created'],
        machines.map((m) => [link(paths.machine(m.stateMachineArn), m.name), m.type, when(m.creationDate)]), { id: 'state-machines' })),
      section('Recent executions', table(['Name', 'Status', 'State machine', 'Started', 'Stopped'],
        executions.map((e) => [link(paths.execution(e.executionArn), e.name), statusBadge(e.status),
          e.stateMachineArn.split(':').pop(), when(e.startDate), when(e.stopDate)]), { id: 'executions' })),
      section('Functions', table(['Name', 'Runtime', 'Memory (MB)', 'Timeout (s)', 'Last modified'],
        functions.map((f) => [link(paths.fn(f.FunctionName), f.FunctionName), f.Runtime || '', f.MemorySize, f.Timeout, f.LastModified || '']),
        { id: 'functions' })),
      section('Activities', table(['Name', 'ARN', 'Created'],
        activities.map((a) => [a.name, h('code', {}, a.activityArn), when(a.creationDate)]), { id: 'activities' })),
    ),
  };
}
