// stepbox's adapter from the stepbox task world to a Lambda Node.js handler.
//
// `stepbox build` (and the server, for a function created with a nodejs
// runtime) bundles a generated entry module, which imports the user's module
// and calls `makeHandle` below, with the user's sources (rolldown), and builds
// the bundle into one component with componentize-js. The user's module runs
// when the component is built (its pre-initialized snapshot is what every
// invocation starts from), so a syntax error fails the build.
//
// Each invocation calls `handler(event, context)` (async, or returning a
// value) with the Task input as `event` and a context with Lambda's members.
// The result is serialized as JSON. A thrown error fails the task with the
// error's name as the error and Node's runtime envelope
// ({"errorType","errorMessage","trace"}) as the cause.

import { log, heartbeat } from 'stepbox:task/host@0.2.0';
import { getEnvironment } from 'wasi:cli/environment@0.2.10';

// Where Lambda deploys a function's code; stack traces name files under it.
const TASK_ROOT = '/var/task';

function env(name, fallback) {
  const value = globalThis.process?.env?.[name];
  return value === undefined ? fallback : value;
}

// Node's `process.env` from the function's environment (Lambda's variables
// and its Environment.Variables), read anew by each invocation: the
// component's snapshot was taken at build time, with the build's.
function loadEnvironment() {
  if (typeof globalThis.process !== 'object' || globalThis.process === null) globalThis.process = {};
  globalThis.process.env = Object.fromEntries(getEnvironment());
}

// Lambda's `context` object (the members of Lambda's Node.js runtime).
function makeContext(ctx, started) {
  const functionName = env('AWS_LAMBDA_FUNCTION_NAME', '');
  const deadline = started + Number(ctx.remainingTimeMs);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: env('AWS_LAMBDA_FUNCTION_VERSION', '$LATEST'),
    invokedFunctionArn: env('STEPBOX_INVOKED_FUNCTION_ARN', ''),
    memoryLimitInMB: env('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128'),
    awsRequestId: ctx.requestId,
    logGroupName: env('AWS_LAMBDA_LOG_GROUP_NAME', `/aws/lambda/${functionName}`),
    logStreamName: env('AWS_LAMBDA_LOG_STREAM_NAME', ''),
    getRemainingTimeInMillis: () => Math.max(Math.floor(deadline - Date.now()), 0),
    // stepbox's additions: the Step Functions side of the invocation.
    executionName: ctx.executionName,
    executionArn: ctx.executionArn,
    stateName: ctx.stateName,
    retryCount: ctx.retryCount,
    taskToken: ctx.taskToken,
    heartbeat: () => heartbeat(),
  };
}

// A SpiderMonkey stack line (`fn@file:line:col`) as Node prints one
// (`    at fn (file:line:col)`), with the bundle's path under /var/task.
function nodeFrame(line, sourceRoot) {
  const at = line.lastIndexOf('@');
  const fn = at > 0 ? line.slice(0, at) : '<anonymous>';
  let where = at >= 0 ? line.slice(at + 1) : line;
  if (sourceRoot) where = where.split(sourceRoot).join(TASK_ROOT);
  return `    at ${fn} (${where})`;
}

// Node's runtime envelope for a thrown value (errorType, errorMessage, trace).
function envelope(err, sourceRoot) {
  if (err instanceof Error) {
    const stack = typeof err.stack === 'string' ? err.stack.split('\n').filter((l) => l.trim() !== '') : [];
    // Leave out the adapter's and componentize-js's own frames.
    const own = (l) => l.startsWith('handle@') || l.includes('initializer.js');
    const frames = stack.filter((l) => !own(l)).map((l) => nodeFrame(l, sourceRoot));
    return { errorType: err.name, errorMessage: err.message, trace: [`${err.name}: ${err.message}`, ...frames] };
  }
  // Node's runtime reports a thrown non-Error by its value.
  const message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  return { errorType: 'string', errorMessage: message, trace: [] };
}

function taskError(err, sourceRoot) {
  const body = envelope(err, sourceRoot);
  return { payload: { error: body.errorType, cause: JSON.stringify(body), stackTrace: [] } };
}

// console.* go to the invocation's log as Lambda's runtime prints them
// (level, request id, message), through the host's log.
function installConsole(current) {
  const format = (args) => args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ');
  const levels = { log: 'info', info: 'info', debug: 'debug', trace: 'trace', warn: 'warn', error: 'error' };
  for (const [method, level] of Object.entries(levels)) {
    globalThis.console[method] = (...args) => {
      const line = `${new Date().toISOString()}\t${current.requestId}\t${level.toUpperCase()}\t${format(args)}`;
      log(level, line);
    };
  }
}

function safeJson(value) {
  if (value instanceof Error) return value.stack || String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// The WIT export `handle` for the user's module namespace `mod` and the
// handler's export name (ES `export const handler`, or CommonJS
// `exports.handler` bundled as the default export).
export function makeHandle(mod, name, sourceRoot) {
  const fn = mod[name] ?? mod.default?.[name];
  if (typeof fn !== 'function') {
    console.error(`stepbox-build-error: Runtime.HandlerNotFound: ${name} is undefined or not exported`);
    throw new Error(`Runtime.HandlerNotFound: ${name} is undefined or not exported`);
  }
  const current = { requestId: '' };
  installConsole(current);
  return async function handle(input, ctx) {
    current.requestId = ctx.requestId;
    loadEnvironment();
    const started = Date.now();
    let result;
    try {
      result = await fn(JSON.parse(input), makeContext(ctx, started));
    } catch (err) {
      throw taskError(err, sourceRoot);
    }
    const text = JSON.stringify(result);
    return text === undefined ? 'null' : text;
  };
}
