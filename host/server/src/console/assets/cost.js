// What an execution would cost on AWS, from the price table the server
// serves (GET /console/api/prices: assets/prices.json, overridable with
// $STEPBOX_CONSOLE_PRICES). Transitions are the history's StateEntered events.

import { consoleGet } from './api.js';

let table = null;

export async function prices() {
  if (!table) table = await consoleGet('prices');
  return table;
}

export function transitions(events) {
  return events.filter((e) => e.type.endsWith('StateEntered')).length;
}

export function standardCost(count, p) {
  return count * p.standardPerTransition;
}

export function expressCost(durationMs, memoryMb, p) {
  const ms = Math.ceil(Math.max(durationMs, 1) / p.expressDurationIncrementMs) * p.expressDurationIncrementMs;
  const mb = Math.ceil(Math.max(memoryMb, 1) / p.expressMemoryIncrementMb) * p.expressMemoryIncrementMb;
  return p.expressPerRequest + (ms / 1000) * (mb / 1024) * p.expressPerGbSecond;
}

export function lambdaCost(invocations, p) {
  return invocations.reduce((sum, i) => sum + p.lambdaPerRequest + (Math.ceil(i.durationMs) / 1000) * (i.memorySizeMb / 1024) * p.lambdaPerGbSecond, 0);
}

export function money(amount, p) {
  return `${amount.toFixed(8).replace(/0+$/, '').replace(/\.$/, '')} ${p.currency}`;
}
