// Every request the console makes goes through request(): one place to add
// authentication (a tenant's SigV4 signature) when the server asks for it.

export class ApiError extends Error {
  constructor(status, type, message) {
    super(`${type}: ${message}`);
    this.status = status;
    this.type = type;
  }
}

async function request(url, init = {}) {
  const response = await fetch(url, { ...init, headers: { ...(init.headers || {}) }, cache: 'no-store' });
  const text = await response.text();
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') && text ? JSON.parse(text) : text;
  if (!response.ok) {
    const name = (body && (body.__type || body.Type)) || `HTTP ${response.status}`;
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
  });
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
  return request(`/2015-03-31/functions${path}`);
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
