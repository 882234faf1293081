//! `stepbox invoke`: one component run from the command line.

use stepbox_tests::stepbox;

#[test]
fn invoke_prints_output_and_logs() {
    let echo = stepbox_components::ECHO;
    let (code, out, _err) = stepbox(&["invoke", echo, "--input", r#"{"hello":"world"}"#]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert_eq!(out.trim(), r#"{"hello":"world"}"#);
}

#[test]
fn invoke_reports_named_errors_with_exit_code_1() {
    let hostile = stepbox_components::HOSTILE;
    let (code, out, err) =
        stepbox(&["invoke", hostile, "--input", r#"{"attack":"loop"}"#, "--timeout", "0.1"]);
    assert_eq!(code, std::process::ExitCode::from(1));
    assert!(out.is_empty());
    assert!(err.contains("Error: Sandbox.Timedout"), "{err}");
}

#[test]
fn invoke_rejects_bad_input_json() {
    let (code, _out, err) = stepbox(&["invoke", stepbox_components::ECHO, "--input", "{nope"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("not valid JSON"), "{err}");
}
