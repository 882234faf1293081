"""Differential test of stepbox's JSONata against the jsonata npm package.

Generates JSONata expressions (every built-in function with good, edge and
wrong-type arguments and wrong arities; the operators over edge operands;
paths over singleton, empty and missing values; numbers huge, negative,
fractional, -0, past 1e21), runs each as the Output of a JSONata Pass state
on `stepbox run`, and the same expression on jsonata_ref.js (jsonata-js, with
AWS's wrapping of results and errors), and compares status, error, cause and
output (numbers by value).

    bash tools/oracle/setup-jsonata.sh target/jsonata-node    # jsonata 2.0.6, AWS's version
    python3 tools/oracle/jsonata_diff.py --stepbox target/debug/stepbox \
        --jsonata target/jsonata-node/node_modules/jsonata [--only TEXT] [--report FILE]

jsonata-js is not AWS either: README.md (JSONata) lists what AWS is known to
do differently and how each disagreement was settled.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

INPUT = {"big": 9223372036854775807, "past": 9223372036854775808, "huge": 1e21, "arr": [1, 2, 3],
         "one": [7], "objs": [{"a": 1}, {"a": 2}], "obj": {"a": 1}, "s": "abc", "n": 5, "neg": -5,
         "frac": 2.5, "empty": [], "emptyobj": {}, "nul": None, "u": "\u00e9\u6f22\U0001F600",
         "nested": [[1, 2], [3]], "strs": ["b", "a", "c"]}

# Argument values, as JSONata text.
VALUES = [
    "null", "true", "false", "0", "-0", "1", "-1", "1.5", "-2.5", "0.1", "1e21", "1e-7", "1e300",
    "9007199254740993", "'abc'", "''", "'\u00e9\u6f22\U0001F600'", "'  a  b '", "'10'", "'1e3'",
    "[]", "[1, 2, 3]", "['b', 'a', 'c']", "[1, 'a']", "[[1, 2], [3]]", "{}", "{'a': 1, 'b': [2]}",
    "$states.input.missing", "$states.input.one", "$states.input.big", "$states.input.huge",
    "function($v){$v}",
]

# name: good arguments (JSONata text); each position gets every value.
FUNCTIONS = {
    "string": ["1", "false"], "length": ["'abc'"], "substring": ["'hello'", "1", "2"],
    "substringBefore": ["'a-b'", "'-'"], "substringAfter": ["'a-b'", "'-'"], "uppercase": ["'a\u00e9'"],
    "lowercase": ["'A\u00c9'"], "trim": ["' a  b '"], "pad": ["'a'", "5", "'#'"], "contains": ["'abc'", "'b'"],
    "split": ["'a,b,c'", "','", "2"], "join": ["['a', 'b']", "','"], "match": ["'abcb'", "/b/", "1"],
    "replace": ["'abc'", "'b'", "'x'", "1"], "base64encode": ["'a\u00e9'"], "base64decode": ["'YcOp'"],
    "encodeUrlComponent": ["'a b&\u00e9'"], "encodeUrl": ["'http://x/a b'"],
    "decodeUrlComponent": ["'a%20b'"], "decodeUrl": ["'a%20b'"],
    "number": ["'12'"], "abs": ["-1"], "floor": ["1.5"], "ceil": ["1.5"], "round": ["1.25", "1"],
    "power": ["2", "3"], "sqrt": ["4"], "formatNumber": ["1234.5", "'#,##0.00'"],
    "formatBase": ["10", "2"], "formatInteger": ["12", "'w'"], "parseInteger": ["'twelve'", "'w'"],
    "sum": ["[1, 2]"], "max": ["[1, 2]"], "min": ["[1, 2]"], "average": ["[1, 2]"], "count": ["[1, 2]"],
    "boolean": ["1"], "not": ["true"], "exists": ["1"],
    "append": ["[1]", "[2]"], "reverse": ["[1, 2]"], "sort": ["[2, 1]"], "zip": ["[1, 2]", "[3]"],
    "distinct": ["[1, 1, 2]"], "single": ["[1]"],
    "keys": ["{'a': 1}"], "lookup": ["{'a': 1}", "'a'"], "spread": ["{'a': 1, 'b': 2}"],
    "merge": ["[{'a': 1}, {'b': 2}]"], "type": ["1"], "error": ["'boom'"], "assert": ["false", "'m'"],
    "toMillis": ["'2020-01-01T00:00:00Z'"], "fromMillis": ["0"],
    "map": ["[1, 2]", "function($v){$v * 2}"], "filter": ["[1, 2]", "function($v){$v > 1}"],
    "reduce": ["[1, 2, 3]", "function($a, $b){$a + $b}"], "sift": ["{'a': 1, 'b': 2}", "function($v){$v > 1}"],
    "each": ["{'a': 1}", "function($v, $k){$k & $v}"],
}

OPERANDS = ["null", "true", "0", "-0", "1", "2.5", "-3", "1e21", "1e308", "'a'", "'2'", "''", "[]", "[1, 2]",
            "{}", "$states.input.missing"]
OPERATORS = ["+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "&", "and", "or", "in"]

PATHS = [
    "$states.input", "$states.input.one", "$states.input.objs.a", "$states.input.objs[0]",
    "$states.input.arr[-1]", "$states.input.arr[5]", "$states.input.arr[[0..1]]", "$states.input.arr[]",
    "$states.input.one[]", "$states.input.empty", "$states.input.emptyobj", "$states.input.nul",
    "$states.input.objs[a = 1]", "$states.input.objs[a = 1].a", "$states.input.objs[a > 5]",
    "$states.input.big", "$states.input.past", "$states.input.huge", "$states.input.big + 1",
    "$states.input.past - 1", "$states.input.huge * 10", "$states.input.u", "$states.input.nested",
    "$states.input.nested[0]", "$states.input.nested.$", "$states.input.arr.($ * 2)",
    "$states.input.arr.$string()", "$states.input.objs.{'x': a}", "$states.input.one.{'x': $}",
    "[$states.input.one.{'x': $}]", "$states.input.arr^(>$)", "$states.input.strs^($)",
    "$states.input.objs{a: a}", "$states.input.*", "$states.input.**.a", "$states.input.n..$states.input.n",
    "[1..3]", "[3..1]", "[1.5..3]", "[0..0]", "1e21", "-1e21", "1e20", "123456789012345678", "0.1 + 0.2",
    "-0", "0 * -1", "1/3", "2/3 * 3", "1e-7", "1.0", "5e-324", "1.7976931348623157e308", "-(1)",
    "'\u00e9\u6f22\U0001F600'", "'\\u00e9'", "\"a\\\"b\"", "{}", "[]", "[[]]", "{'a': $states.input.missing}",
    "[1, $states.input.missing, 2]", "{'a': function($x){$x}}", "$states.input.s[0]", "$states.input.n[0]",
    "$states.input.n[1]", "($x := 2; $x * 3)", "$eval('1')", "$nope()", "$states.input.obj.$keys()",
    "$states.input ~> $keys()", "$states.input.arr ~> $sum()", "true ? 1 : 2", "null ? 1 : 2",
    "[] ? 1 : 2", "'' ? 1 : 2", "$states.input.missing ? 1 : 2", "$now() = $now()", "$type($states.input.nul)",
    "$exists($states.input.nul)", "$exists($states.input.missing)", "$count($states.input.missing)",
    "$string($states.input.missing)", "$states.input.missing = null", "$states.input.nul = null",
    "$string(1e20)", "$string(1e21)", "$string(-1e21)", "$string(0.1 + 0.2)", "$string(1/3)",
    "$string(123456789012345678)", "$string(1e-7)", "$string(-0)", "$string(5e-324)", "$string({'a': 1.0})",
    "$string([1e21, 'x', null, true])", "$string(function($x){$x})", "$string(1/0)", "1/0", "-1/0",
    "0/0", "$sqrt(-1)", "$power(10, 400)", "$number('1e400')", "[1/0]", "{'a': 1/0}",
]


def cases():
    out = []
    for f, good in FUNCTIONS.items():
        out.append(f"${f}()")
        out.append(f"${f}({', '.join(good + ['1'])})")
        for i in range(len(good)):
            for v in VALUES:
                args = good[:i] + [v] + good[i + 1:]
                out.append(f"${f}({', '.join(args)})")
    for op in OPERATORS:
        for a in OPERANDS:
            for b in OPERANDS:
                out.append(f"{a} {op} {b}")
    for a in OPERANDS:
        out.append(f"-{a}")
        out.append(f"[{a}..3]")
    out += PATHS
    seen, unique = set(), []
    for e in out:
        if e not in seen:
            seen.add(e)
            unique.append(e)
    return unique


def definition(expr):
    return {"QueryLanguage": "JSONata", "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Output": "{% " + expr + " %}", "End": True}}}


def run_stepbox(binary, expr):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(definition(expr), f)
    try:
        out = subprocess.run([binary, "run", f.name, "--input", json.dumps(INPUT), "--history"],
                             capture_output=True, text=True, timeout=10)
        try:
            r = json.loads(out.stdout)
        except json.JSONDecodeError:
            return {"status": "INVALID", "cause": (out.stdout + out.stderr).strip()[:300]}
        r.pop("events", None)
        return r
    except subprocess.TimeoutExpired:
        return {"status": "HUNG"}
    finally:
        os.unlink(f.name)


PREFIX = re.compile(r"^An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. ")


def norm(r):
    out = {"status": r.get("status")}
    if out["status"] == "SUCCEEDED":
        out["output"] = r.get("output")
    elif out["status"] == "FAILED":
        out["error"] = r.get("error")
        out["cause"] = PREFIX.sub("", r.get("cause") or "")
    return out


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def kind(s, t):
    """A short label for a disagreement, to count them by kind."""
    if s["status"] != t["status"]:
        return f"{s['status']} vs {t['status']}"
    if s["status"] == "FAILED":
        code = lambda c: (re.search(r"evaluation[.:] (?:([A-Z]\d{4}):)?", c) or [None, None])[1]
        cs, ct = code(s["cause"]), code(t["cause"])
        return "error code" if cs != ct else "cause text"
    return "output"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stepbox", required=True)
    ap.add_argument("--jsonata", required=True, help="path of the jsonata npm package")
    ap.add_argument("--only")
    ap.add_argument("--report")
    a = ap.parse_args()
    batch = [e for e in cases() if not a.only or a.only in e]
    env = dict(os.environ, JSONATA_MODULE=os.path.abspath(a.jsonata))
    ref = subprocess.run(["node", os.path.join(HERE, "jsonata_ref.js")], env=env, check=True, capture_output=True,
                         text=True, input=json.dumps([{"expr": e, "input": INPUT} for e in batch]))
    theirs = json.loads(ref.stdout)
    rows, agree, counts = [], 0, {}
    for expr, t in zip(batch, theirs):
        s, t = norm(run_stepbox(a.stepbox, expr)), norm(t)
        if same(s, t):
            agree += 1
            continue
        k = kind(s, t)
        counts[k] = counts.get(k, 0) + 1
        rows.append({"expr": expr, "kind": k, "stepbox": s, "jsonata": t})
    for r in rows:
        print(f"- [{r['kind']}] {r['expr']}\n    stepbox: {json.dumps(r['stepbox'], ensure_ascii=False)}\n"
              f"    jsonata: {json.dumps(r['jsonata'], ensure_ascii=False)}")
    print(f"{len(batch)} cases: {agree} agree, {len(rows)} disagree {json.dumps(counts)}")
    if a.report:
        with open(a.report, "w") as f:
            json.dump(rows, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
