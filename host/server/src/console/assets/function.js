// /console/functions/{NAME}: configuration, versions, aliases and recent
// invocations (the function API's and Task states'), with their log tails.

import { lambda, consoleGet } from './api.js';
import { h, link, paths, section, table, when, duration } from './ui.js';

export async function fn(name) {
  const path = `/${encodeURIComponent(name)}`;
  const [fnc, versions, aliases] = await Promise.all([
    lambda(path),
    lambda(`${path}/versions`).then((r) => r.Versions || []),
    lambda(`${path}/aliases`).then((r) => r.Aliases || []),
  ]);
  const recent = (await consoleGet(`invocations?functionName=${encodeURIComponent(name)}`)).invocations;
  const c = fnc.Configuration || {};
  document.title = `${c.FunctionName || name} · stepbox console`;
  const facts = ['FunctionName', 'FunctionArn', 'Runtime', 'Handler', 'MemorySize', 'Timeout', 'CodeSize', 'CodeSha256', 'Version', 'LastModified', 'State', 'Description'];
  return {
    node: h('div', {},
      h('h1', {}, c.FunctionName || name),
      section('Configuration', h('dl', { class: 'facts', id: 'configuration' },
        facts.filter((k) => c[k] !== undefined && c[k] !== '').map((k) => [h('dt', {}, k), h('dd', {}, String(c[k]))]),
        c.Environment && c.Environment.Variables ? [h('dt', {}, 'Environment'), h('dd', {}, h('pre', { class: 'json' }, JSON.stringify(c.Environment.Variables, null, 2)))] : null)),
      section('Versions', table(['Version', 'Code SHA-256', 'Description', 'Last modified'],
        versions.map((v) => [v.Version, h('code', {}, v.CodeSha256 || ''), v.Description || '', v.LastModified || '']), { id: 'versions' })),
      section('Aliases', table(['Name', 'Version', 'Description'],
        aliases.map((a) => [a.Name, a.FunctionVersion, a.Description || '']), { id: 'aliases' })),
      section('Recent invocations', invocationsTable(recent)),
    ),
  };
}

export function invocationsTable(list, withCaller = true) {
  return table(['Time', 'Duration', 'Memory used / size (MB)', 'Error', withCaller ? 'Called by' : 'Attempt', 'Log tail'],
    list.map((i) => [
      when(i.time), duration(i.durationMs), `${i.maxMemoryUsedMb ?? '?'} / ${i.memorySizeMb}`,
      i.error ? h('span', { class: 'error-name', title: i.cause || '' }, i.error) : '',
      withCaller ? (i.executionArn ? [link(paths.execution(i.executionArn), i.executionArn.split(':').pop()), ` ${i.stateName || ''}`] : 'Invoke')
        : `${i.stateName} #${i.retryCount + 1}`,
      i.logTail ? h('details', {}, h('summary', {}, `${i.logTail.split('\n').filter(Boolean).length} line(s)`), h('pre', { class: 'log' }, i.logTail)) : '',
    ]), { class: 'invocations' });
}
