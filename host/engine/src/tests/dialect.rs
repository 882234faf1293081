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
