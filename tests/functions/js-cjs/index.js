// A Lambda-style Node.js handler in CommonJS for stepbox's tests.
const { shout } = require('./textcase');

exports.handler = async (event, context) => {
  if (event.fail) throw new RangeError(`cannot shout ${event.fail}`);
  return { shout: shout(event.name), requestId: context.awsRequestId };
};
