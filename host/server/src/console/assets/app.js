// The console's router: one page per path, rendered into <main id="app">.
// A page is an async function returning { node, stop? } (stop ends its polling).
// <body data-ready> is set once a page has rendered (or failed to).

import { h, errorBox } from './ui.js';
import { home } from './home.js';
import { machine } from './machine.js';
import { execution } from './execution.js';
import { fn } from './function.js';

const PAGES = { 'state-machines': machine, executions: execution, functions: fn };
let current = null;

async function render() {
  if (current && current.stop) current.stop();
  current = null;
  const app = document.getElementById('app');
  document.body.removeAttribute('data-ready');
  const path = location.pathname;
  const m = /^\/console\/(state-machines|executions|functions)\/(.+)$/.exec(path);
  try {
    let page;
    if (path === '/console/' || path === '/console') {
      document.body.dataset.page = 'home';
      page = await home();
    } else if (m) {
      document.body.dataset.page = m[1];
      page = await PAGES[m[1]](decodeURIComponent(m[2]));
    } else {
      document.body.dataset.page = 'missing';
      page = { node: h('p', { class: 'error' }, `No console page at ${path}`) };
    }
    current = page;
    app.replaceChildren(page.node);
  } catch (e) {
    app.replaceChildren(errorBox(e));
  }
  document.body.dataset.ready = 'true';
}

document.addEventListener('click', (event) => {
  const a = event.target.closest('a');
  if (!a || a.origin !== location.origin || !a.pathname.startsWith('/console')) return;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || a.target) return;
  event.preventDefault();
  history.pushState(null, '', a.pathname + a.search);
  render();
});
window.addEventListener('popstate', render);
window.addEventListener('console:navigate', render);
render();
