//! JSONata cases the differential against jsonata-js settled
//! (tools/oracle/README.md, "JSONata"): each as the Output of a Pass state,
//! with what AWS answers.

use super::*;

async fn output(expr: &str) -> ExecutionOutcome {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": format!("{{% {expr} %}}"), "End": true}}});
    run_with(def, json!({"s": "abc"}), &[]).await.outcome
}

/// The cause after the state's prefix.
fn cause(o: &ExecutionOutcome) -> &str {
    let c = o.cause.as_deref().unwrap_or_default();
    c.split_once("). ").map_or(c, |(_, rest)| rest)
}

#[tokio::test]
async fn a_coded_error_ends_the_sentence_and_reads_as_jsonata_js() {
    let cases = [
        ("$abs('x')", "T0410: Argument 1 of function \"abs\" does not match function signature"),
        ("$string(1, 0)", "T0410: Argument 2 of function \"string\" does not match function signature"),
        ("$substring('hello', 1, 2, 3)", "T0410: Argument 4 of function \"substring\" does not match function signature"),
        ("$sum([1, 'a'])", "T0412: Argument 1 of function \"sum\" must be an array of \"numbers\""),
        ("$join([1], ',')", "T0412: Argument 1 of function \"join\" must be an array of \"strings\""),
        ("1 + 'a'", "T2002: The right side of the \"+\" operator must evaluate to a number"),
        ("'a' * 2", "T2001: The left side of the \"*\" operator must evaluate to a number"),
        ("1 > true", "T2010: The expressions either side of operator \">\" must evaluate to numeric or string values"),
        ("$number('abc')", "D3030: Unable to cast value to a number: \"abc\""),
        ("$formatBase(10, 1)", "D3100: The radix of the formatBase function must be between 2 and 36.  It was given 1"),
        ("$single([1, 2])", "D3138: The $single() function expected exactly 1 matching result.  Instead it matched more."),
        ("$error('')", "D3137: $error() function evaluated"),
        ("$nope()", "T1006: Attempted to invoke a non-function"),
        ("$eval('1 + 1')", "T1006: Attempted to invoke a non-function"),
    ];
    for (expr, message) in cases {
        let o = output(expr).await;
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
        assert_eq!(
            cause(&o),
            format!("The JSONata expression '{expr}' specified for the field 'Output' threw an error during evaluation. {message}"),
        );
    }
}

#[tokio::test]
async fn infinities_and_nan_are_written_as_strings() {
    for (expr, out) in [
        ("1/0", json!("Infinity")),
        ("-1/0", json!("-Infinity")),
        ("0/0", json!("NaN")),
        ("1e308 * 10", json!("Infinity")),
        ("[1/0]", json!(["Infinity"])),
        ("{'a': 1 % 0}", json!({"a": "NaN"})),
    ] {
        let o = output(expr).await;
        assert_eq!(o.output, Some(out), "{expr}");
    }
}

/// jsonata-core overflows on `$substring`'s huge arguments (a panic, its
/// arithmetic being checked in every profile: Cargo.toml). A written call's
/// arguments are read as Java ints first (`arguments`), so this reaches it
/// through a variable: the state fails with AWS's internal-error sentence;
/// the execution ends.
#[tokio::test]
async fn a_panicking_evaluation_fails_the_state_not_the_process() {
    let expr = "($f := $substring; $f('hello', 1e21, 2))";
    let o = output(expr).await;
    if cfg!(debug_assertions) {
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"));
        assert_eq!(
            cause(&o),
            format!("The JSONata expression '{expr}' specified for the field 'Output' threw an internal error during evaluation.")
        );
    }
}

/// A range whose size overflows jsonata-core's integers (wrapped, it was 0,
/// and the range then counted through every 64-bit integer): the state
/// fails; it neither hangs nor fills memory.
#[tokio::test]
async fn a_range_past_64_bit_integers_fails_the_state() {
    for expr in ["$count([-1e300..1e300])", "$count([-1..9223372036854775807])", "1---1---11111111111111..11111111111111111111111111111111111111111111111111111---8----8----8"] {
        let o = output(expr).await;
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
    }
}

/// A tail-recursive function that never returns: the evaluation stops at
/// the time limit and the state fails (it held the worker for good). Run on
/// a thread of its own, so a hang fails the test instead of holding it.
#[test]
fn an_endless_expression_fails_at_the_time_limit() {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = std::time::Instant::now();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let _ = tx.send(rt.block_on(output("($f := function($n){ $f($n + 1) }; $f(0))")));
    });
    let o = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the endless expression was still evaluating after 120 s");
    assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        cause(&o),
        "The JSONata expression '($f := function($n){ $f($n + 1) }; $f(0))' specified for the field 'Output' threw an error during evaluation: Expression evaluation timeout: Check for infinite loop"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(stepbox_asl::jsonata::EVALUATION_TIMEOUT_MS));
}

/// `expr` as Output fails with AWS's memory refusal.
async fn assert_memory_refusal(expr: &str) {
    let o = output(expr).await;
    assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
    assert_eq!(
        cause(&o),
        format!("The JSONata expression '{expr}' specified for the field 'Output' threw an error during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage")
    );
}

/// AWS's memory bound at its recorded edge (floci-io/floci issue 2737,
/// TestState): 873,782 numbers answer, one more fails with its refusal.
#[tokio::test]
async fn a_sequence_past_aws_memory_bound_fails_the_state() {
    let o = output("[1..873782] ~> $count()").await;
    assert_eq!(o.output, Some(json!(873782)));
    for expr in ["[1..873783] ~> $count()", "$sum([1..900000])"] {
        assert_memory_refusal(expr).await;
    }
}

/// AWS's depth bound (floci-io/floci issue 2737: `1+1+…+1` with 200 terms
/// fails; 100 nested evaluations are accepted, 101 refused), where the
/// expression itself nests: a sum of 100 terms answers, of 101 fails.
#[tokio::test]
async fn an_expression_nesting_past_aws_depth_bound_fails_the_state() {
    let o = output(&vec!["1"; 100].join("+")).await;
    assert_eq!(o.output, Some(json!(100)), "{:?}", o.cause);
    for n in [101, 200] {
        let expr = vec!["1"; n].join("+");
        let o = output(&expr).await;
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"));
        assert_eq!(
            cause(&o),
            format!("The JSONata expression '{expr}' specified for the field 'Output' threw an error during evaluation: Stack overflow error: Check for non-terminating recursive function. Consider rewriting as tail-recursive.")
        );
    }
    // Only what every evaluation reaches counts.
    let o = output(&format!("true ? 1 : {}", vec!["1"; 200].join("+"))).await;
    assert_eq!(o.output, Some(json!(1)), "{:?}", o.cause);
}

/// AWS's bound on one string (floci-io/floci issue 2737: 2^22 characters
/// accepted, 2^23 refused with its memory refusal): `$pad` refuses before
/// building two gigabytes, and a string reaching the bound any other way
/// fails the state too.
#[tokio::test]
async fn a_string_of_two_to_the_23_characters_fails_the_state() {
    let o = output("$length($pad('', 4194304, 'ab'))").await;
    assert_eq!(o.output, Some(json!(4194304)), "{:?}", o.cause);
    for expr in ["$pad('', 2e9)", "($padding := 1; $pad('x', -8388608, '#'))", "$join([1..8] ~> $map(function($v){ $pad('', 1048576, 'y') }))"] {
        assert_memory_refusal(expr).await;
    }
}

/// $formatNumber's picture errors in jsonata-js's words, as AWS answers
/// (its D3086 recorded by TestState in floci-io/floci issue 2737).
#[tokio::test]
async fn picture_errors_read_as_aws_writes_them() {
    for (expr, message) in [
        ("$formatNumber(1, \"x\")", "D3086: The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character"),
        ("$formatNumber(1, \"0.0.0\")", "D3081: The sub-picture must not contain more than one instance of the 'decimal-separator' character"),
        ("$formatNumber(1, \"#;#;#\")", "D3080: The picture string must only contain a maximum of two sub-pictures"),
    ] {
        let o = output(expr).await;
        assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
        assert_eq!(cause(&o), format!("The JSONata expression '{expr}' specified for the field 'Output' threw an error during evaluation. {message}"));
    }
}
