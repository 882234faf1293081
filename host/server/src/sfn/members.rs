//! The members of every Step Functions request and their shapes (the API
//! reference's), checked before the operation runs.

use crate::shape::Shape::{self, Bool, Double, Enum, Int, List, Str, Struct};

type Members = &'static [(&'static str, Shape)];

const INCLUDED_DATA: Shape = Enum(&["ALL_DATA", "METADATA_ONLY"]);
const MACHINE_TYPE: Shape = Enum(&["STANDARD", "EXPRESS"]);
const TAGS: Shape = List(&Struct(&[("key", Str), ("value", Str)]));
const LOGGING: Shape = Struct(&[
    ("level", Enum(&["ALL", "ERROR", "FATAL", "OFF"])),
    ("includeExecutionData", Bool),
    ("destinations", List(&Struct(&[("cloudWatchLogsLogGroup", Struct(&[("logGroupArn", Str)]))]))),
]);
const TRACING: Shape = Struct(&[("enabled", Bool)]);
const ENCRYPTION: Shape = Struct(&[
    ("kmsKeyId", Str),
    ("kmsDataKeyReusePeriodSeconds", Int),
    ("type", Enum(&["AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"])),
]);
const ROUTING: Shape = List(&Struct(&[("stateMachineVersionArn", Str), ("weight", Int)]));
const STATUS: Shape = Enum(&["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]);

const START: Members = &[("stateMachineArn", Str), ("name", Str), ("input", Str), ("traceHeader", Str)];
const PAGE: Members = &[("maxResults", Int), ("nextToken", Str)];

/// The members of operation `op` (None: an operation stepbox does not know).
pub(crate) fn of(op: &str) -> Option<Members> {
    Some(match op {
        "CreateStateMachine" => &[
            ("name", Str),
            ("definition", Str),
            ("roleArn", Str),
            ("type", MACHINE_TYPE),
            ("loggingConfiguration", LOGGING),
            ("tags", TAGS),
            ("tracingConfiguration", TRACING),
            ("publish", Bool),
            ("versionDescription", Str),
            ("encryptionConfiguration", ENCRYPTION),
        ],
        "UpdateStateMachine" => &[
            ("stateMachineArn", Str),
            ("definition", Str),
            ("roleArn", Str),
            ("loggingConfiguration", LOGGING),
            ("tracingConfiguration", TRACING),
            ("publish", Bool),
            ("versionDescription", Str),
            ("encryptionConfiguration", ENCRYPTION),
        ],
        "DescribeStateMachine" => &[("stateMachineArn", Str), ("includedData", INCLUDED_DATA)],
        "DeleteStateMachine" => &[("stateMachineArn", Str)],
        "ListStateMachines" | "ListActivities" => PAGE,
        "ValidateStateMachineDefinition" => &[
            ("definition", Str),
            ("type", MACHINE_TYPE),
            ("severity", Enum(&["ERROR", "WARNING"])),
            ("maxResults", Int),
        ],
        "StartExecution" => START,
        "StartSyncExecution" => &[
            ("stateMachineArn", Str),
            ("name", Str),
            ("input", Str),
            ("traceHeader", Str),
            ("includedData", INCLUDED_DATA),
        ],
        "TestState" => &[
            ("definition", Str),
            ("roleArn", Str),
            ("input", Str),
            ("inspectionLevel", Enum(&["INFO", "DEBUG", "TRACE"])),
            ("revealSecrets", Bool),
            ("variables", Str),
            ("stateName", Str),
            ("context", Str),
        ],
        "DescribeExecution" | "DescribeStateMachineForExecution" => {
            &[("executionArn", Str), ("includedData", INCLUDED_DATA)]
        }
        "StopExecution" => &[("executionArn", Str), ("error", Str), ("cause", Str)],
        "RedriveExecution" => &[("executionArn", Str), ("clientToken", Str)],
        "ListExecutions" => &[
            ("stateMachineArn", Str),
            ("statusFilter", STATUS),
            ("maxResults", Int),
            ("nextToken", Str),
            ("mapRunArn", Str),
            ("redriveFilter", Enum(&["REDRIVEN", "NOT_REDRIVEN"])),
        ],
        "DescribeMapRun" => &[("mapRunArn", Str)],
        "ListMapRuns" => &[("executionArn", Str), ("maxResults", Int), ("nextToken", Str)],
        "UpdateMapRun" => &[
            ("mapRunArn", Str),
            ("maxConcurrency", Int),
            ("toleratedFailurePercentage", Double),
            ("toleratedFailureCount", Int),
        ],
        "GetExecutionHistory" => &[
            ("executionArn", Str),
            ("maxResults", Int),
            ("reverseOrder", Bool),
            ("nextToken", Str),
            ("includeExecutionData", Bool),
        ],
        "TagResource" => &[("resourceArn", Str), ("tags", TAGS)],
        "UntagResource" => &[("resourceArn", Str), ("tagKeys", List(&Str))],
        "ListTagsForResource" => &[("resourceArn", Str)],
        "PublishStateMachineVersion" => &[("stateMachineArn", Str), ("revisionId", Str), ("description", Str)],
        "ListStateMachineVersions" | "ListStateMachineAliases" => {
            &[("stateMachineArn", Str), ("maxResults", Int), ("nextToken", Str)]
        }
        "DeleteStateMachineVersion" => &[("stateMachineVersionArn", Str)],
        "CreateStateMachineAlias" => &[("name", Str), ("description", Str), ("routingConfiguration", ROUTING)],
        "UpdateStateMachineAlias" => {
            &[("stateMachineAliasArn", Str), ("description", Str), ("routingConfiguration", ROUTING)]
        }
        "DescribeStateMachineAlias" | "DeleteStateMachineAlias" => &[("stateMachineAliasArn", Str)],
        "CreateActivity" => &[("name", Str), ("tags", TAGS), ("encryptionConfiguration", ENCRYPTION)],
        "DescribeActivity" | "DeleteActivity" => &[("activityArn", Str)],
        "GetActivityTask" => &[("activityArn", Str), ("workerName", Str)],
        "SendTaskSuccess" => &[("taskToken", Str), ("output", Str)],
        "SendTaskFailure" => &[("taskToken", Str), ("error", Str), ("cause", Str)],
        "SendTaskHeartbeat" => &[("taskToken", Str)],
        _ => return None,
    })
}
