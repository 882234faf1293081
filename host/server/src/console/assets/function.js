// /console/functions/{NAME}: configuration, versions and aliases.

import { lambda } from './api.js';
import { h, section, table } from './ui.js';

export async function fn(name) {
  const path = `/${encodeURIComponent(name)}`;
  const [fnc, versions, aliases] = await Promise.all([
    lambda(path),
    lambda(`${path}/versions`).then((r) => r.Versions || []),
    lambda(`${path}/aliases`).then((r) => r.Aliases || []),
  ]);
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
    ),
  };
}
