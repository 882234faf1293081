"""Differential test: stepbox against LocalStack's Step Functions interpreter.

Generates JSONPath definitions and inputs (every field that reads a value at
run time, with bad and edge values; intrinsic functions with edge
arguments), runs each on `stepbox run` and on LocalStack's interpreter
(localstack_run.py, in process, Lambda calls echoed), and compares status,
error, cause and output. LocalStack is not AWS: a disagreement is settled
from AWS's documentation and recordings, not by taking either side.

    python3 tools/oracle/differential.py --stepbox target/debug/stepbox \
        --functions DIR_WITH_echo.wasm --localstack-python VENV/bin/python \
        [--only SUBSTRING] [--report report.json]

JSONata cases are not generated: LocalStack evaluates JSONata on a JVM
(jpype and a jsonata Java library it downloads at run time).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO = "arn:aws:lambda:us-east-1:111111111111:function:echo"

MISSING = object()
VALUES = [
    ("missing", MISSING), ("null", None), ("string", "abc"), ("numeric string", "10"),
    ("empty string", ""), ("unicode", "\u00e9\u6f22\U0001F600"), ("true", True),
    ("negative", -1), ("zero", 0), ("one", 1), ("fraction", 1.5), ("whole double", 2.0),
    ("negative fraction", -0.5), ("huge double", 1e20), ("tiny double", 1e-7),
    ("max long", 9223372036854775807), ("past long", 9223372036854775808),
    ("past int", 4294967296), ("empty array", []), ("array", [1, "a"]),
    ("empty object", {}), ("object", {"a": 1}), ("bad timestamp", "2024-13-01T00:00:00Z"),
    ("timestamp", "2020-01-01T00:00:00Z"), ("offset timestamp", "2020-01-01T00:00:00+01:00"),
    ("fractional timestamp", "2020-01-01T00:00:00.123Z"), ("percentage", 50.5), ("over 100", 100.5),
]


def pass_items(extra):
    m = {"Type": "Map", "ItemsPath": "$.items", "End": True,
         "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                           "States": {"P": {"Type": "Pass", "End": True}}}}
    m.update(extra)
    return m


FIELDS = {
    "SecondsPath": {"Type": "Wait", "SecondsPath": "$.v", "End": True},
    "TimestampPath": {"Type": "Wait", "TimestampPath": "$.v", "End": True},
    "TimeoutSecondsPath": {"Type": "Task", "Resource": ECHO, "TimeoutSecondsPath": "$.v", "End": True},
    "HeartbeatSecondsPath": {"Type": "Task", "Resource": ECHO, "HeartbeatSecondsPath": "$.v", "End": True},
    "MaxConcurrencyPath": pass_items({"MaxConcurrencyPath": "$.v"}),
    "ToleratedFailureCountPath": pass_items({"ToleratedFailureCountPath": "$.v"}),
    "ToleratedFailurePercentagePath": pass_items({"ToleratedFailurePercentagePath": "$.v"}),
    "ItemsPath": pass_items({"ItemsPath": "$.v"}),
    "MaxItemsPerBatchPath": pass_items({"ItemBatcher": {"MaxItemsPerBatchPath": "$.v"}}),
    "InputPath": {"Type": "Pass", "InputPath": "$.v", "End": True},
    "OutputPath": {"Type": "Pass", "OutputPath": "$.v", "End": True},
    "ResultPath": {"Type": "Pass", "Result": 1, "ResultPath": "$.v.r", "End": True},
    "Parameters": {"Type": "Pass", "Parameters": {"x.$": "$.v"}, "End": True},
    "ResultSelector": {"Type": "Task", "Resource": ECHO, "ResultSelector": {"x.$": "$.v"}, "End": True},
    "Choice": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "A"}], "Default": "A"},
    "ChoiceString": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringEquals": "abc", "Next": "A"}], "Default": "A"},
    "ChoiceTimestamp": {"Type": "Choice", "Choices": [{"Variable": "$.v", "TimestampLessThan": "2021-01-01T00:00:00Z", "Next": "A"}], "Default": "A"},
    "ChoicePresent": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsPresent": True, "Next": "A"}], "Default": "A"},
    "ErrorPath": {"Type": "Fail", "ErrorPath": "$.v"},
    "CausePath": {"Type": "Fail", "Error": "E", "CausePath": "$.v"},
}

INTRINSICS = [
    "States.MathAdd($.v, 1)", "States.MathRandom($.v, 10)", "States.ArrayLength($.v)",
    "States.ArrayGetItem($.a, $.v)", "States.ArrayRange(1, $.v, 1)", "States.ArrayPartition($.a, $.v)",
    "States.ArrayContains($.v, 1)", "States.ArrayUnique($.v)", "States.StringSplit($.v, ',')",
    "States.Base64Encode($.v)", "States.Base64Decode($.v)", "States.Hash($.v, 'SHA-256')",
    "States.JsonToString($.v)", "States.StringToJson($.v)", "States.JsonMerge($.v, $.o, false)",
    "States.Format('x{}y', $.v)", "States.Array($.v)", "States.UUID()",
]


# Every Choice comparison, against each value: which branch runs.
CHOICE_RULES = [
    ("NumericEquals", 1), ("NumericLessThan", 1), ("NumericGreaterThan", 1),
    ("NumericLessThanEquals", 1), ("NumericGreaterThanEquals", 1.5),
    ("NumericEqualsPath", "$.w"), ("NumericLessThanPath", "$.w"), ("NumericGreaterThanEqualsPath", "$.w"),
    ("StringEquals", "10"), ("StringLessThan", "abc"), ("StringGreaterThan", "abc"),
    ("StringLessThanEquals", "abc"), ("StringGreaterThanEquals", "abc"),
    ("StringEqualsPath", "$.ws"), ("StringLessThanPath", "$.ws"), ("StringMatches", "a*c"),
    ("BooleanEquals", True), ("BooleanEqualsPath", "$.wb"),
    ("TimestampEquals", "2020-01-01T00:00:00Z"), ("TimestampLessThan", "2021-01-01T00:00:00Z"),
    ("TimestampGreaterThanEquals", "2020-01-01T00:00:00Z"), ("TimestampLessThanPath", "$.wt"),
    ("IsNull", True), ("IsNumeric", True), ("IsString", True), ("IsBoolean", True),
    ("IsTimestamp", True), ("IsPresent", False), ("IsNumeric", False),
]


def choice_cases():
    for op, operand in CHOICE_RULES:
        rule = {"Variable": "$.v", op: operand, "Next": "Yes"}
        states = {"S": {"Type": "Choice", "Choices": [rule], "Default": "No"},
                  "Yes": {"Type": "Pass", "Result": "yes", "End": True},
                  "No": {"Type": "Pass", "Result": "no", "End": True}}
        for label, v in VALUES:
            inp = {"w": 1, "ws": "abc", "wb": True, "wt": "2021-01-01T00:00:00Z"}
            if v is not MISSING:
                inp["v"] = v
            yield f"Choice {op} {json.dumps(operand)} / {label}", {"StartAt": "S", "States": states}, inp


def waits_long(field, value):
    """A valid wait longer than a second (both sides would really sleep)."""
    if field == "SecondsPath":
        return isinstance(value, int) and not isinstance(value, bool) and value > 1
    return False


def cases():
    for name, state in FIELDS.items():
        for label, v in VALUES:
            if waits_long(name, v):
                continue
            inp = {"items": [1, 2], "a": [1, 2, 3], "o": {"k": 1}}
            if v is not MISSING:
                inp["v"] = v
            states = {"S": state}
            if name.startswith("Choice"):
                states["A"] = {"Type": "Pass", "End": True}
            yield f"{name} / {label}", {"StartAt": "S", "States": states}, inp
    for call in INTRINSICS:
        for label, v in VALUES:
            inp = {"a": [1, 2, 3], "o": {"k": 1}}
            if v is not MISSING:
                inp["v"] = v
            state = {"Type": "Pass", "Parameters": {"x.$": call}, "End": True}
            yield f"{call} / {label}", {"StartAt": "S", "States": {"S": state}}, inp
    yield from choice_cases()


def run_localstack(python, batch):
    payload = json.dumps([{"definition": d, "input": i} for _, d, i in batch])
    out = subprocess.run([python, os.path.join(HERE, "localstack_run.py")], input=payload,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_stepbox(binary, functions, definition, inp):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(definition, f)
    try:
        args = [binary, "run", f.name, "--input", json.dumps(inp), "--history"]
        if functions:
            args += ["--functions", functions]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        try:
            r = json.loads(out.stdout)
        except json.JSONDecodeError:
            return {"status": "REFUSED", "cause": (out.stdout + out.stderr).strip()[:500]}
        r.pop("events", None)
        return r
    finally:
        os.unlink(f.name)


PREFIX = re.compile(r"^An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. ")


def norm(r):
    status = r.get("status")
    if status in ("CRASHED", "REFUSED", "HUNG"):
        return {"status": "NOT RUN"}
    out = {"status": status}
    if status == "SUCCEEDED":
        out["output"] = r.get("output")
    else:
        text = lambda v: v if isinstance(v, str) or v is None else json.dumps(v)
        out["error"] = text(r.get("error"))
        out["cause"] = PREFIX.sub("", text(r.get("cause")) or "")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stepbox", required=True)
    ap.add_argument("--functions")
    ap.add_argument("--localstack-python", required=True)
    ap.add_argument("--only")
    ap.add_argument("--report")
    a = ap.parse_args()
    batch = [c for c in cases() if not a.only or a.only in c[0]]
    theirs = run_localstack(a.localstack_python, batch)
    rows, agree, skipped = [], 0, 0
    for (name, d, i), t in zip(batch, theirs):
        s = norm(run_stepbox(a.stepbox, a.functions, d, i))
        t = norm(t)
        if "NOT RUN" in (s["status"], t["status"]) and s != t:
            skipped += 1
        elif same(s, t):
            agree += 1
        else:
            rows.append({"case": name, "definition": d, "input": i, "stepbox": s, "localstack": t})
    for r in rows:
        print(f"- {r['case']}\n    stepbox:    {json.dumps(r['stepbox'])}\n    localstack: {json.dumps(r['localstack'])}")
    print(f"{len(batch)} cases: {agree} agree, {len(rows)} disagree, {skipped} run by one side only")
    if a.report:
        with open(a.report, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
