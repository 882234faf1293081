// W3's Task in JavaScript: the `processed` component's answer (the input plus
// "processed": true) as a Lambda handler. host/bench/README.md runs it.
export const handler = async (event) => ({ ...event, processed: true });
