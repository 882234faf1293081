//! Hostile clients: every input is bounded by what it may cost before the
//! server pays for it, and answered as AWS answers it.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use serde_json::Value;
use stepbox_sandbox::Registry;
use stepbox_server::{AppState, ConnectionLimits, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Harness, ROLE, component, create_function, raw, sfn_request, start};

async fn start_with(connections: ConnectionLimits) -> Harness {
    let config = ServerConfig { connections, ..ServerConfig::default() };
    let state = AppState::in_memory(config, Registry::new(shared_sandbox().clone()));
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    let (sfn, lambda) = (crate::clients::sfn(&endpoint), crate::clients::lambda(&endpoint));
    Harness { server, sfn, lambda }
}

/// A zip of one deflated entry `name` holding `len` zero bytes.
fn zeros_zip(name: &str, len: usize) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file(name, opts).unwrap();
    std::io::Write::write_all(&mut w, &vec![0u8; len]).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

/// `zip` with its one entry's uncompressed size, in the local and central
/// headers, set to `size`.
fn declare_size(mut zip: Vec<u8>, size: u32) -> Vec<u8> {
    assert_eq!(&zip[..4], b"PK\x03\x04");
    zip[22..26].copy_from_slice(&size.to_le_bytes());
    let central = zip.windows(4).rposition(|w| w == b"PK\x01\x02").expect("a central directory entry");
    zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
    zip
}

async fn refused_code(h: &Harness, code: Vec<u8>) -> aws_sdk_lambda::operation::create_function::CreateFunctionError {
    h.lambda
        .create_function()
        .function_name("bomb")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .expect_err("the code is refused")
        .into_service_error()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_bombs_are_refused_before_they_inflate() {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    let h = start().await;
    let cases = [
        // One entry declaring 2 GiB (as a real bomb's header does): Lambda's unzipped limit.
        (declare_size(zeros_zip("f.wasm", 8 << 20), 2 << 30), "Unzipped size must be smaller than 262144000 bytes"),
        // An honest header, but 8 MiB from a few KiB.
        (zeros_zip("f.wasm", 8 << 20), "refused as a zip bomb"),
        // A header that lies low: inflating stops past what it declared.
        (declare_size(zeros_zip("f.wasm", 8 << 20), 4 << 10), "inflates to more than the 4096 bytes its header declares"),
    ];
    for (code, message) in cases {
        let started = Instant::now();
        let err = refused_code(&h, code).await;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert!(err.message().unwrap().contains(message), "{err:?}");
        // Inflating it whole took 12.6 s; the bound leaves room for a loaded machine.
        assert!(started.elapsed() < Duration::from_secs(6), "refused after {:?}", started.elapsed());
    }
    assert!(h.server.state.registry.get("bomb").is_none());
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upload_is_refused_unread_as_lambda_does() {
    let h = start().await;
    let request = format!(
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        stepbox_server::LAMBDA_BODY_LIMIT + 1
    );
    let (status, head, body) = raw(h.server.addr, &request).await;
    assert_eq!(status, 413, "{head}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: requestentitytoolargeexception"), "{head}");
    assert!(body.contains("Request must be smaller than 69905067 bytes for the CreateFunction operation"), "{body}");
    h.server.shutdown().await.unwrap();
}

/// Whether the server closes `stream` within `within` (reading whatever it answers).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off() {
    let limits = ConnectionLimits { header_read_timeout: Duration::from_millis(800), ..Default::default() };
    let h = start_with(limits).await;
    let mut stream = TcpStream::connect(h.server.addr).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for byte in b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n" {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(3), trickle).await.ok();
    // Without the header timeout the connection stays open for good; the
    // bounds leave room for a loaded machine.
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await, "still open after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(6), "cut off after {:?}", started.elapsed());
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let limits = ConnectionLimits { header_read_timeout: Duration::from_millis(500), ..Default::default() };
    let h = start_with(limits).await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(h.server.addr).await.unwrap());
    }
    // One that made a request and kept the connection alive.
    let mut kept = TcpStream::connect(h.server.addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    idle.push(kept);
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(5)).await, "an idle connection stays open");
    }
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_client() {
    let limits = ConnectionLimits { max_connections_per_ip: 4, ..Default::default() };
    let h = start_with(limits).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(TcpStream::connect(h.server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fifth = TcpStream::connect(h.server.addr).await.unwrap();
    assert!(closed_within(&mut fifth, Duration::from_secs(5)).await, "a fifth connection is served");
    // The four are served, and one closing makes room.
    let (status, _, _) = {
        drop(open.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        raw(h.server.addr, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await
    };
    assert_eq!(status, 200);
    open[0].write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    open[0].read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_is_cut_off() {
    let limits = ConnectionLimits { body_read_timeout: Duration::from_millis(500), ..Default::default() };
    let h = start_with(limits).await;
    let mut stream = TcpStream::connect(h.server.addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\
                Content-Length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(6), stream.read_to_string(&mut answer))
        .await
        .expect("answered while the body is still missing")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    h.server.shutdown().await.unwrap();
}

/// `body` sent as Step Functions operation `op`: (status, `__type`, message).
async fn sfn_answer(h: &Harness, op: &str, body: &str) -> (u16, String, String) {
    let (status, _, text) = raw(h.server.addr, &sfn_request(&format!("AWSStepFunctions.{op}"), body)).await;
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op} {body}: {e}: {text}"));
    (status, v["__type"].as_str().unwrap_or("").into(), v["message"].as_str().unwrap_or("").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_functions_members_of_the_wrong_type_are_refused() {
    let h = start().await;
    let arn = "arn:aws:states:us-east-1:111111111111:stateMachine:m";
    let exec = "arn:aws:states:us-east-1:111111111111:execution:m:e";
    let definition = r#"{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}"#;
    let serialization = "SerializationException";
    let cases = [
        (
            "CreateStateMachine",
            format!(r#"{{"name":"m","definition":"{definition}","roleArn":"{ROLE}","loggingConfiguration":"ALL"}}"#),
            serialization,
            "Unexpected field type",
        ),
        (
            "CreateStateMachine",
            format!(r#"{{"name":"m","definition":"{definition}","roleArn":"{ROLE}","loggingConfiguration":{{"level":"LOUD"}}}}"#),
            "ValidationException",
            "Value 'LOUD' at 'loggingConfiguration.level' failed to satisfy constraint",
        ),
        ("DescribeExecution", format!(r#"{{"executionArn":"{exec}","includedData":1}}"#), serialization, "NUMBER_VALUE can not be converted to a String"),
        (
            "DescribeExecution",
            format!(r#"{{"executionArn":"{exec}","includedData":"SOME_DATA"}}"#),
            "ValidationException",
            "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]",
        ),
        ("StartExecution", format!(r#"{{"stateMachineArn":"{arn}","traceHeader":42}}"#), serialization, "NUMBER_VALUE can not be converted to a String"),
        ("StartSyncExecution", format!(r#"{{"stateMachineArn":"{arn}","traceHeader":{{}}}}"#), serialization, "Start of structure or map found where not expected"),
        ("GetExecutionHistory", format!(r#"{{"executionArn":"{exec}","reverseOrder":"yes"}}"#), serialization, "STRING_VALUE can not be converted to a Boolean"),
        ("ListStateMachines", r#"{"maxResults":"10"}"#.into(), serialization, "STRING_VALUE can not be converted to an Integer"),
        ("TagResource", format!(r#"{{"resourceArn":"{arn}","tags":[{{"key":1}}]}}"#), serialization, "NUMBER_VALUE can not be converted to a String"),
    ];
    for (op, body, kind, message) in cases {
        let (status, got_kind, got_message) = sfn_answer(&h, op, &body).await;
        assert_eq!((status, got_kind.as_str()), (400, kind), "{op} {body}: {got_message}");
        assert!(got_message.contains(message), "{op} {body}: {got_message}");
    }
    // Members a request does not declare are ignored, as AWS does.
    let body = format!(r#"{{"name":"m","definition":"{definition}","roleArn":"{ROLE}","someFutureMember":{{"x":1}}}}"#);
    let (status, kind, message) = sfn_answer(&h, "CreateStateMachine", &body).await;
    assert_eq!(status, 200, "{kind}: {message}");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_api_members_of_the_wrong_type_are_refused() {
    let h = start().await;
    let zip = stepbox_asl::base64::encode(&component("processed"));
    let cases = [
        (format!(r#"{{"FunctionName":"f","Role":"{ROLE}","Code":{{"ZipFile":"{zip}"}},"Timeout":"3"}}"#), 400, "InvalidRequestContentException"),
        (format!(r#"{{"FunctionName":"f","Role":"{ROLE}","Code":"{zip}"}}"#), 400, "InvalidRequestContentException"),
        (format!(r#"{{"FunctionName":"f","Role":"{ROLE}","Code":{{"ZipFile":"{zip}"}},"Architectures":["sparc"]}}"#), 400, "ValidationException"),
        (format!(r#"{{"FunctionName":"f","Role":"{ROLE}","Code":{{"ZipFile":"{zip}"}},"LoggingConfig":"JSON"}}"#), 400, "InvalidRequestContentException"),
    ];
    for (body, status, kind) in cases {
        let request = format!(
            "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (got, head, text) = raw(h.server.addr, &request).await;
        assert_eq!(got, status, "{text}");
        assert!(head.to_ascii_lowercase().contains(&format!("x-amzn-errortype: {}", kind.to_ascii_lowercase())), "{head}\n{text}");
    }
    assert!(h.server.state.registry.get("f").is_none());
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_payload_that_is_not_utf8_is_refused_not_rewritten() {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    let h = start().await;
    create_function(&h, "processed", "processed").await;
    let err = h
        .lambda
        .invoke()
        .function_name("processed")
        .payload(Blob::new(b"{\"name\": \"caf\xe9\"}".to_vec()))
        .send()
        .await
        .expect_err("invalid UTF-8 is refused")
        .into_service_error();
    assert!(err.is_invalid_request_content_exception(), "{err:?}");
    assert!(err.message().unwrap().starts_with("Could not parse request body into json"), "{err:?}");
    assert!(err.message().unwrap().contains("Invalid UTF-8"), "{err:?}");
    h.server.shutdown().await.unwrap();
}
