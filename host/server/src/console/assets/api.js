// Every request the console makes goes through request(): signed (SigV4,
// see sigv4.js) with the key entered in the page when the server has tenants.

import { credentials, sign } from './sigv4.js';

let mode;

// 'sigv4' when the server has tenants (every request signed), else 'none'.
export async function authMode() {
  if (!mode) {
    const r = await fetch('/console/api/auth', { cache: 'no-store' });
    mode = (await r.json()).auth;
  }
  return mode;
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(`${type}: ${message}`);
    this.status = status;
    this.type = type;
  }
}

async function request(url, init = {}, service = 'console') {
  let headers = { ...(init.headers || {}) };
  const creds = credentials();
  if (creds && (await authMode()) === 'sigv4') {
    headers = await sign(creds, service, init.method || 'GET', url, headers, init.body || '');
  }
  const response = await fetch(url, { ...init, headers, cache: 'no-store' });
  const text = await response.text();
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') && text ? JSON.parse(text) : text;
  if (!response.ok) {
    // The error's name: the x-amzn-ErrorType header (the function API's body only says "User").
    const header = (response.headers.get('x-amzn-errortype') || '').split(':')[0];
    const name = header || (body && (body.__type || body.Type)) || `HTTP ${response.status}`;
    const message = (body && (body.message || body.Message)) || String(body);
    throw new ApiError(response.status, String(name).split('#').pop(), message);
  }
  return body;
}

// A Step Functions operation (awsJson1_0) on this server.
export function sfn(operation, params = {}) {
  return request('/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${operation}` },
    body: JSON.stringify(params),
  }, 'states');
}

// Every page of a paginated Step Functions list.
export async function sfnAll(operation, params, key, limit = 1000) {
  const out = [];
  let nextToken;
  do {
    const page = await sfn(operation, { ...params, ...(nextToken ? { nextToken } : {}) });
    out.push(...(page[key] || []));
    nextToken = page.nextToken;
  } while (nextToken && out.length < limit);
  return out;
}

// A GET on the Lambda-compatible function API.
export function lambda(path) {
  return request(`/2015-03-31/functions${path}`, {}, 'lambda');
}

// The console's own read-only endpoints.
export function consoleGet(path) {
  return request(`/console/api/${path}`);
}

export function graphSvg(definition) {
  return request('/console/api/graph', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof definition === 'string' ? definition : JSON.stringify(definition),
  });
}
