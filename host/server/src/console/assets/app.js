// The console's router: one page per path, rendered into <main id="app">.
// A page is an async function returning { node, stop? } (stop ends its polling).
// <body data-ready> is set once a page has rendered (or failed to).

import { h, errorBox } from './ui.js';
import { ApiError, authMode } from './api.js';
import { credentials, signIn, signOut } from './sigv4.js';
import { home } from './home.js';
import { machine } from './machine.js';
import { execution } from './execution.js';
import { fn } from './function.js';

const PAGES = { 'state-machines': machine, executions: execution, functions: fn };
let current = null;

// Refusals that mean the key entered is not (or no longer) good.
const AUTH_ERRORS = ['MissingAuthenticationTokenException', 'UnrecognizedClientException',
  'InvalidSignatureException', 'IncompleteSignatureException'];

// With tenants: the form asking for an access key (kept in sessionStorage).
function signInPage(error) {
  const id = h('input', { id: 'access-key-id', name: 'accessKeyId', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'secret-access-key', name: 'secretAccessKey', type: 'password',
    autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'sign-in', onsubmit: (event) => {
    event.preventDefault();
    signIn(id.value, secret.value);
    render();
  } },
  h('h2', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'This server has tenants: the console signs its requests with your access key. '
    + 'The key stays in this tab (sessionStorage) and is never sent, only its signatures.'),
  error ? h('p', { class: 'error', role: 'alert' }, String(error.message || error)) : null,
  h('label', {}, 'Access key ID ', id),
  h('label', {}, 'Secret access key ', secret),
  h('button', { type: 'submit' }, 'Sign in'));
  return { node: form };
}

// The header's "signed in as" and sign-out link, with tenants.
function account() {
  const nav = document.querySelector('header.top nav');
  let span = document.getElementById('account');
  const creds = credentials();
  if (!creds) {
    if (span) span.remove();
    return;
  }
  if (!span) {
    span = h('span', { id: 'account' });
    nav.after(span);
  }
  span.replaceChildren(`Signed in as ${creds.accessKeyId} · `, h('a', { href: '#', class: 'sign-out', onclick: (event) => {
    event.preventDefault();
    signOut();
    render();
  } }, 'Sign out'));
}

async function render() {
  if (current && current.stop) current.stop();
  current = null;
  const app = document.getElementById('app');
  document.body.removeAttribute('data-ready');
  const path = location.pathname;
  const m = /^\/console\/(state-machines|executions|functions)\/(.+)$/.exec(path);
  try {
    let page;
    const signing = (await authMode()) === 'sigv4';
    account();
    if (signing && !credentials()) {
      document.body.dataset.page = 'sign-in';
      page = signInPage();
    } else if (path === '/console/' || path === '/console') {
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
    if (e instanceof ApiError && AUTH_ERRORS.includes(e.type)) {
      signOut();
      account();
      document.body.dataset.page = 'sign-in';
      current = signInPage(e);
      app.replaceChildren(current.node);
    } else {
      app.replaceChildren(errorBox(e));
    }
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
