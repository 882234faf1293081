// AWS Signature Version 4 for the console's requests to a server with
// tenants (`stepbox serve --tenants FILE`): signed with Web Crypto (SHA-256,
// HMAC-SHA-256) as the SDKs sign, in the Authorization header. The key is
// entered in the page and kept in sessionStorage (this tab only, gone when
// it closes). Web Crypto needs a secure context: https, or a loopback host.

const KEY = 'stepbox.credentials';
const REGION = 'us-east-1';

// The key in use: { accessKeyId, secretAccessKey }, or null.
export function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return c && c.accessKeyId && c.secretAccessKey ? c : null;
  } catch {
    return null;
  }
}

export function signIn(accessKeyId, secretAccessKey) {
  sessionStorage.setItem(KEY, JSON.stringify({ accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim() }));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

const encoder = new TextEncoder();

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(data) {
  return hex(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? encoder.encode(data) : data));
}

async function hmac(key, text) {
  const k = await crypto.subtle.importKey('raw', typeof key === 'string' ? encoder.encode(key) : key,
    { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, encoder.encode(text));
}

// RFC 3986 encoding, as SigV4's canonical form wants it.
function uriEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// The path as signed: each segment (as sent) encoded once more, as the SDKs
// sign for every service but S3.
function canonicalPath(path) {
  return path.split('/').map(uriEncode).join('/') || '/';
}

function canonicalQuery(search) {
  const pairs = [...new URLSearchParams(search)].map(([k, v]) => [uriEncode(k), uriEncode(v)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// The headers to send with a request of `method` to `url` (same origin)
// carrying `body` (a string), signed with `creds` for `service`.
export async function sign(creds, service, method, url, headers, body = '') {
  const u = new URL(url, location.href);
  const date = amzDate(new Date());
  const day = date.slice(0, 8);
  const all = { ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()])),
    host: u.host, 'x-amz-date': date };
  const names = Object.keys(all).sort();
  const payload = await sha256(body);
  const canonical = [method, canonicalPath(u.pathname), canonicalQuery(u.search),
    names.map((n) => `${n}:${all[n]}\n`).join(''), names.join(';'), payload].join('\n');
  const scope = `${day}/${REGION}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, await sha256(canonical)].join('\n');
  let key = await hmac(`AWS4${creds.secretAccessKey}`, day);
  for (const part of [REGION, service, 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  const out = { ...headers, 'x-amz-date': date };
  out.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, `
    + `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  delete out.host;
  return out;
}
