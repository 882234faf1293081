// The reference side of the JSONata differential (jsonata_diff.py): reads
// [{expr, input}] on stdin, evaluates each with the jsonata npm package
// (`$states.input` bound), and answers what a JSONata Pass state's Output
// does on AWS: {status, output} or {status, error, cause}. Where AWS is
// known to differ from jsonata-js the difference is applied here and noted
// in tools/oracle/README.md.
const path = require('path');
const jsonata = require(process.env.JSONATA_MODULE || 'jsonata');

// Jackson (AWS's JSON writer) writes a non-finite double as a string.
function jackson(v) {
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : (v > 0 ? 'Infinity' : '-Infinity');
  if (Array.isArray(v)) return v.map(jackson);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = jackson(x);
    return o;
  }
  return v;
}

function unsupported(v) {
  if (typeof v === 'function') return true;
  if (v && typeof v === 'object' && (v._jsonata_lambda || v._jsonata_function || v instanceof RegExp)) return true;
  if (Array.isArray(v)) return v.some(unsupported);
  return false;
}

async function run({ expr, input }) {
  const quoted = `The JSONata expression '${expr}' specified for the field 'Output'`;
  const fail = (cause) => ({ status: 'FAILED', error: 'States.QueryEvaluationError', cause });
  let compiled;
  try {
    compiled = jsonata(expr);
  } catch (e) {
    return { status: 'INVALID', cause: e.message };
  }
  try {
    // AWS removes $eval.
    const r = await compiled.evaluate(undefined, { states: { input }, eval: undefined });
    if (r === undefined) return fail(`${quoted} returned nothing (undefined).`);
    if (unsupported(r)) return fail(`${quoted} returned an unsupported result type.`);
    return { status: 'SUCCEEDED', output: jackson(JSON.parse(JSON.stringify(r, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? jackson(v) : v)))) };
  } catch (e) {
    if (e.code) return fail(`${quoted} threw an error during evaluation. ${e.code}: ${e.message}`);
    return fail(`${quoted} threw an error during evaluation: ${e.message}`);
  }
}

(async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const out = [];
  for (const c of JSON.parse(text)) out.push(await run(c));
  process.stdout.write(JSON.stringify(out));
})();
