#!/usr/bin/env python3
"""Generate W1 (the pass chain of the shared benchmark) in both query languages.

W1's states each compute
    tmp := { counter: tmp.counter + 1, label: 'step {counter} of {name}', name: name }
and merge it into the input. w1-jsonpath.asl.json is the shared generator's
definition (Parameters with intrinsics, ResultPath $.tmp); w1-jsonata.asl.json
does the same work with one JSONata Output per state. Both share one input, so
the runner's checks are the same.

Usage: python3 gen_w1.py OUT_DIR [--states N]   (writes the two definitions,
the input and manifest.json, keys w1 and w1j)
"""
import json
import os
import sys


def chain(n, body):
    states = {}
    for i in range(n):
        st = dict(body)
        if i + 1 < n:
            st["Next"] = f"P{i + 1:04d}"
        else:
            st["End"] = True
        states[f"P{i:04d}"] = st
    return states


def jsonpath(n):
    return {"Comment": f"W1 pass-chain: {n} Pass states (JSONPath)", "StartAt": "P0000",
            "States": chain(n, {
                "Type": "Pass",
                "Parameters": {
                    "counter.$": "States.MathAdd($.tmp.counter, 1)",
                    "label.$": "States.Format('step {} of {}', $.tmp.counter, $.name)",
                    "name.$": "$.name",
                },
                "ResultPath": "$.tmp",
            })}


def jsonata(n):
    return {"Comment": f"W1 pass-chain: {n} Pass states (JSONata)", "QueryLanguage": "JSONata",
            "StartAt": "P0000",
            "States": chain(n, {
                "Type": "Pass",
                "Output": "{% $merge([$states.input, {'tmp': {"
                          "'counter': $states.input.tmp.counter + 1, "
                          "'label': 'step ' & $states.input.tmp.counter & ' of ' & $states.input.name, "
                          "'name': $states.input.name}}]) %}",
            })}


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    n = int(args[args.index("--states") + 1]) if "--states" in args else 1000
    os.makedirs(out, exist_ok=True)
    data = {"name": "bench", "data": {"a": 1, "b": [1, 2, 3], "c": {"d": "e"}}, "tmp": {"counter": 0}}
    expect = [["tmp.counter", "eq", n], ["tmp.label", "eq", f"step {n - 1} of bench"],
              ["tmp.name", "eq", "bench"], ["data.c.d", "eq", "e"]]
    manifest = {}
    for key, name, definition in [("w1", "w1-jsonpath", jsonpath(n)), ("w1j", "w1-jsonata", jsonata(n))]:
        with open(os.path.join(out, f"{name}.asl.json"), "w") as f:
            json.dump(definition, f, indent=1)
        manifest[key] = {"name": name, "definition": f"{name}.asl.json", "input": "w1.input.json",
                         "executions": 1, "units_per_execution": n, "unit": "transitions",
                         "task_states": [], "expect": expect}
    with open(os.path.join(out, "w1.input.json"), "w") as f:
        json.dump(data, f)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
