// Small DOM helpers: elements are built, never parsed from strings (the
// server's SVG graph is the one exception, and it escapes its text).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function link(path, text) {
  return h('a', { href: path }, text);
}

export const paths = {
  machine: (arn) => `/console/state-machines/${encodeURIComponent(arn)}`,
  execution: (arn) => `/console/executions/${encodeURIComponent(arn)}`,
  fn: (name) => `/console/functions/${encodeURIComponent(name)}`,
};

export function table(columns, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((cell) => h('td', {}, cell))))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'None'))));
}

export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}

// A date from epoch seconds (the APIs' timestamps).
export function when(seconds) {
  if (seconds === undefined || seconds === null) return '';
  const d = new Date(seconds * 1000);
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, status);
}

// JSON text (or a value) pretty-printed; text that is not JSON as it is.
export function pretty(value) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  return JSON.stringify(value, null, 2);
}

export function jsonBlock(value) {
  return h('pre', { class: 'json' }, pretty(value));
}

export function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, String(error && error.message ? error.message : error));
}

// A form field holding JSON: validated as it is typed; returns the field and
// a function giving the parsed text or throwing.
export function jsonField(name, initial = '{}', rows = 6) {
  const area = h('textarea', { name, rows, spellcheck: 'false', class: 'json-input' });
  area.value = initial;
  const message = h('span', { class: 'field-error', role: 'status' });
  const check = () => {
    try {
      JSON.parse(area.value);
      message.textContent = '';
      area.removeAttribute('aria-invalid');
      return true;
    } catch (e) {
      message.textContent = `Invalid JSON: ${e.message}`;
      area.setAttribute('aria-invalid', 'true');
      return false;
    }
  };
  area.addEventListener('input', () => { check(); area.dispatchEvent(new CustomEvent('validity')); });
  return { area, message, valid: check, text: () => JSON.stringify(JSON.parse(area.value)) };
}

// Goes to a console page without reloading (app.js renders it).
export function navigate(path) {
  history.pushState(null, '', path);
  window.dispatchEvent(new Event('console:navigate'));
}
