// A Lambda-style Node.js handler (ES module) for stepbox's tests: what it does
// is chosen by the event's "action".
import { shout } from './lib/textcase.mjs';

class OrderRejected extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderRejected';
  }
}

export const handler = async (event, context) => {
  const action = event.action ?? 'echo';
  if (action === 'echo') {
    console.log('echo', context.awsRequestId);
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { event, shout: shout(event.name ?? '') };
  }
  if (action === 'context') {
    return {
      awsRequestId: context.awsRequestId,
      functionName: context.functionName,
      functionVersion: context.functionVersion,
      memoryLimitInMB: context.memoryLimitInMB,
      remaining: context.getRemainingTimeInMillis(),
      invokedFunctionArn: context.invokedFunctionArn,
      logStreamName: context.logStreamName,
    };
  }
  if (action === 'env') return Object.fromEntries(event.names.map((n) => [n, process.env[n] ?? null]));
  if (action === 'raise') throw new OrderRejected(`order ${event.order} rejected`);
  if (action === 'loop') for (;;) {}
  if (action === 'grow') {
    const hoard = [];
    for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
  }
  if (action === 'recurse') return handler(event, context);
  throw new Error(`unknown action ${action}`);
};
