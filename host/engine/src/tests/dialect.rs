//! Numbers and edge arguments of the functions Step Functions adds: the
//! intrinsics' rounding (JSONPath) and the JSONata dialect's $partition,
//! $range, $hash, $random, $uuid and $parse, each as AWS answers it
//! (tools/oracle/README.md, "Step Functions' own functions").

use super::*;

/// What a Pass state's `Parameters` value `r.$` yields for `input`.
async fn intrinsic(call: &str, input: Value) -> ExecutionOutcome {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"r.$": call}, "End": true}}});
    run_with(def, input, &[]).await.outcome
}

/// States.MathAdd rounds a fraction as Java's Math.round does: a half
/// goes up, towards positive infinity, also below zero.
#[tokio::test]
async fn math_add_rounds_halves_upwards() {
    for (a, b, sum) in [
        (json!(1.49), json!(1.5), 3),
        (json!(1.5), json!(1.51), 4),
        (json!(-1.49), json!(-1.5), -2),
        (json!(-1.5), json!(-1.51), -3),
        (json!(-2.5), json!(0), -2),
        (json!(-0.5), json!(1), 1),
    ] {
        let o = intrinsic("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})).await;
        assert_eq!(o.output, Some(json!({"r": sum})), "{a} + {b}: {:?}", o.cause);
    }
}

/// What a JSONata Pass state's `Output` is for `expr`.
async fn jsonata(expr: &str) -> ExecutionOutcome {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": format!("{{% {expr} %}}"), "End": true}}});
    run_with(def, json!({}), &[]).await.outcome
}

/// AWS's answers recorded in floci-io/floci issue 2662 and pull request
/// 2676: fractions truncated towards zero, a seed drawn through
/// java.util.Random, a one-number range as that number.
#[tokio::test]
async fn dialect_functions_answer_as_aws() {
    for (expr, out) in [
        ("$random(42)", json!(0.7275636800328681)),
        ("$random(42.9)", json!(0.7275636800328681)),
        ("$range(-1.7, 2, 1)", json!([-1, 0, 1, 2])),
        ("$range(0, 6, 2)", json!([0, 2, 4, 6])),
        ("$range(5, 1, -2)", json!([5, 3, 1])),
        ("$range(1, 1, 1)", json!(1)),
        ("$range(1, 9, 9)", json!(1)),
        ("$partition([1, 2, 3, 4], 2)", json!([[1, 2], [3, 4]])),
        ("$partition([1, 2, 3], 1.5)", json!([[1], [2], [3]])),
        ("$partition([1, 2, 3])", json!([[1, 2, 3]])),
        ("$hash('input', 'SHA-1')", json!("140f86aae51ab9e1cda9b4254fe98a74eb54c1a1")),
        ("$parse('{\"a\": 1}').a", json!(1)),
        // Passed to a higher-order function, each takes what it is given.
        ("$map(['{\"a\": 1}'], $parse)", json!({"a": 1})),
        // JavaScript's encodeURI, as jsonata-js answers (blanks encoded).
        ("$encodeUrl('https://x.com/ä b?q=[1]&r=#f%')", json!("https://x.com/%C3%A4%20b?q=%5B1%5D&r=#f%25")),
        ("$map(['a b'], $encodeUrl)", json!("a%20b")),
        // An expression's own `$uuid` takes what it is given.
        ("($uuid := function($a, $b) { $a + $b }; $uuid(1, 2))", json!(3)),
        ("$map([1], function($v, $i, $a) { $uuid() } ) ~> $type()", json!("string")),
        // Whole milliseconds, truncated towards zero (JSONata's Date, Java's long).
        ("$fromMillis(1.5)", json!("1970-01-01T00:00:00.001Z")),
        ("$fromMillis(-2.5)", json!("1969-12-31T23:59:59.998Z")),
        ("$fromMillis(1000.9, '[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]')", json!("1970-01-01 00:00:01")),
        // Number and radix rounded as $round rounds, a half to even.
        ("$formatBase(-2.5, 2)", json!("-10")),
        ("$formatBase(3.5, 2)", json!("100")),
        ("$formatBase(10, 1.5)", json!("1010")),
        ("$formatBase(255, 16)", json!("ff")),
        // Java ints, saturated: no overflow.
        ("$substring('hello', 1, 1e21)", json!("ello")),
        ("$substring('hello', 1e21, 2)", json!("")),
        ("$substring('hello', -1e300, 2)", json!("he")),
        ("$substring('hello', -2, 1)", json!("l")),
        // Arrays inside arrays spread too.
        ("$spread([[1, 2], [3]])", json!([1, 2, 3])),
        ("$spread([[{'a': 1}], {'b': 2}])", json!([{"a": 1}, {"b": 2}])),
        ("$spread({'a': 1})", json!({"a": 1})),
        ("$reduce([], function($a, $b) { $a + $b }, 5)", json!(5)),
        ("$reduce([1, 2], function($a, $b) { $a + $b })", json!(3)),
        ("[1..3]", json!([1, 2, 3])),
        ("-(2 + 1) + -$number('4')", json!(-7)),
        ("[-1, -2.5]", json!([-1, -2.5])),
        // An expression's own `$spread` takes its argument as it is.
        ("($spread := function($a) { $count($a) }; $spread([[1, 2], [3]]))", json!(2)),
        // In a branch not taken, a call with too many arguments fails nothing.
        ("true ? 1 : $uuid(1)", json!(1)),
    ] {
        let o = jsonata(expr).await;
        assert_eq!(o.output, Some(out), "{expr}: {:?}", o.cause);
    }
}

/// Where AWS answers undefined (the state fails saying so) or an error.
#[tokio::test]
async fn dialect_functions_fail_as_aws() {
    let undefined = "returned nothing (undefined).";
    for (expr, tail) in [
        ("$range(1, 5)", undefined),
        ("$range(5, 1, 1)", undefined),
        ("$range(1, 5, 0)", undefined),
        ("$partition([1, 2, 3], 0)", undefined),
        ("$partition([1, 2, 3], -0.5)", undefined),
        ("$partition([], 2)", undefined),
        ("$hash('input')", undefined),
        ("$partition([1, 2, 3], -1)", "threw an error during evaluation. D3137: Second argument must be zero or greater"),
        ("$hash('input', 'sha-1')", "threw an error during evaluation. D3137: Hash algorithm 'sha-1' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"),
        ("$parse('{bad')", "threw an error during evaluation. D3137: Invalid JSON"),
        ("$partition('abc', 2)", "threw an error during evaluation. T0412: Argument 1 of function \"partition\" must be an array of undefined"),
        ("$range('a', 5, 1)", "threw an error during evaluation. T0410: Argument 1 of function \"range\" does not match function signature"),
        ("$random('a')", "threw an error during evaluation. T0410: Argument 1 of function \"random\" does not match function signature"),
        ("$encodeUrl(1)", "threw an error during evaluation. T0410: Argument 1 of function \"encodeUrl\" does not match function signature"),
        // A written call with an argument past the signature (`surplus`).
        ("$uuid(1)", "threw an error during evaluation. T0410: Argument 1 of function \"uuid\" does not match function signature"),
        ("$parse('{}', 2)", "threw an error during evaluation. T0410: Argument 2 of function \"parse\" does not match function signature"),
        ("$partition([1], 1, 3)", "threw an error during evaluation. T0410: Argument 3 of function \"partition\" does not match function signature"),
        ("$hash('a', 'MD5', 1)", "threw an error during evaluation. T0410: Argument 3 of function \"hash\" does not match function signature"),
        ("$encodeUrl('a b', 1)", "threw an error during evaluation. T0410: Argument 2 of function \"encodeUrl\" does not match function signature"),
        ("$random(1, 2)", "threw an error during evaluation. T0410: Argument 2 of function \"random\" does not match function signature"),
        ("[1, 2].$range(1, 2, 1, 0)", "threw an error during evaluation. T0410: Argument 4 of function \"range\" does not match function signature"),
        // Its arguments are evaluated first, as JSONata validates a signature.
        ("$reduce([], function($a, $b) { $a + $b })", undefined),
        ("-'a'", "threw an error during evaluation. D1002: Cannot negate a non-numeric value: \"a\""),
        ("-$states.input.missing.x ? 1 : -null", "threw an error during evaluation. D1002: Cannot negate a non-numeric value: null"),
        ("-{'a': [1, true]}", "threw an error during evaluation. D1002: Cannot negate a non-numeric value: {\"a\":[1,true]}"),
        ("[null..3]", "threw an error during evaluation. T2003: The left side of the range operator (..) must evaluate to an integer"),
        ("[1..null]", "threw an error during evaluation. T2004: The right side of the range operator (..) must evaluate to an integer"),
        ("$uuid($error('first'))", "threw an error during evaluation. D3137: first"),
    ] {
        let o = jsonata(expr).await;
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
        let want = format!("The JSONata expression '{expr}' specified for the field 'Output' {tail}");
        assert!(o.cause.as_deref().unwrap_or_default().ends_with(&want), "{expr}: {:?}", o.cause);
    }
}
