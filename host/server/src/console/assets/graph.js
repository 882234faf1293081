// The state machine's graph: the server lays it out (POST /console/api/graph,
// the same layered layout as `stepbox graph`) and answers SVG whose state
// elements carry data-state; the execution page sets their data-status.

import { graphSvg } from './api.js';
import { h } from './ui.js';

export async function renderGraph(definition, onSelect) {
  const svg = await graphSvg(definition);
  const box = h('div', { class: 'graph', role: 'img', 'aria-label': 'state machine graph' });
  box.innerHTML = svg;
  if (onSelect) {
    box.addEventListener('click', (event) => {
      const node = event.target.closest('[data-state]');
      if (node) onSelect(node.dataset.state);
    });
  }
  return box;
}

export function stateNodes(box) {
  return [...box.querySelectorAll('[data-state]')];
}

export function applyStatuses(box, states, selected) {
  for (const node of stateNodes(box)) {
    const s = states.get(node.dataset.state);
    node.dataset.status = s ? s.status : 'NOT_STARTED';
    node.classList.toggle('selected', node.dataset.state === selected);
  }
}
