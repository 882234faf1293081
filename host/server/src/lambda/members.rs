//! The members of the function API's JSON requests and their shapes (the
//! Lambda API reference's), checked before the operation runs.

use crate::shape::Shape::{self, Blob, Bool, Double, Enum, Int, List, Map, Str, Struct};

type Members = &'static [(&'static str, Shape)];

const VPC: Shape = Struct(&[("SubnetIds", List(&Str)), ("SecurityGroupIds", List(&Str)), ("Ipv6AllowedForDualStack", Bool)]);
const ENVIRONMENT: Shape = Struct(&[("Variables", Map(&Str))]);
const DEAD_LETTER: Shape = Struct(&[("TargetArn", Str)]);
const TRACING: Shape = Struct(&[("Mode", Enum(&["Active", "PassThrough"]))]);
const FILE_SYSTEMS: Shape = List(&Struct(&[("Arn", Str), ("LocalMountPath", Str)]));
const IMAGE: Shape = Struct(&[("EntryPoint", List(&Str)), ("Command", List(&Str)), ("WorkingDirectory", Str)]);
const ARCHITECTURES: Shape = List(&Enum(&["x86_64", "arm64"]));
const EPHEMERAL: Shape = Struct(&[("Size", Int)]);
const SNAP_START: Shape = Struct(&[("ApplyOn", Enum(&["PublishedVersions", "None"]))]);
const LOGGING: Shape = Struct(&[
    ("LogFormat", Enum(&["JSON", "Text"])),
    ("ApplicationLogLevel", Enum(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"])),
    ("SystemLogLevel", Enum(&["DEBUG", "INFO", "WARN"])),
    ("LogGroup", Str),
]);
const CODE: Shape = Struct(&[
    ("ZipFile", Blob),
    ("S3Bucket", Str),
    ("S3Key", Str),
    ("S3ObjectVersion", Str),
    ("ImageUri", Str),
    ("SourceKMSKeyArn", Str),
]);
const ROUTING: Shape = Struct(&[("AdditionalVersionWeights", Map(&Double))]);

/// The members of operation `op`'s body (None: a body-less or unknown operation).
pub(crate) fn of(op: &str) -> Option<Members> {
    Some(match op {
        "CreateFunction" => &[
            ("FunctionName", Str),
            ("Runtime", Str),
            ("Role", Str),
            ("Handler", Str),
            ("Code", CODE),
            ("Description", Str),
            ("Timeout", Int),
            ("MemorySize", Int),
            ("Publish", Bool),
            ("VpcConfig", VPC),
            ("PackageType", Enum(&["Zip", "Image"])),
            ("DeadLetterConfig", DEAD_LETTER),
            ("Environment", ENVIRONMENT),
            ("KMSKeyArn", Str),
            ("TracingConfig", TRACING),
            ("Tags", Map(&Str)),
            ("Layers", List(&Str)),
            ("FileSystemConfigs", FILE_SYSTEMS),
            ("ImageConfig", IMAGE),
            ("CodeSigningConfigArn", Str),
            ("Architectures", ARCHITECTURES),
            ("EphemeralStorage", EPHEMERAL),
            ("SnapStart", SNAP_START),
            ("LoggingConfig", LOGGING),
        ],
        "TagResource" => &[("Tags", Map(&Str))],
        "UpdateFunctionCode" => &[
            ("ZipFile", Blob),
            ("S3Bucket", Str),
            ("S3Key", Str),
            ("S3ObjectVersion", Str),
            ("ImageUri", Str),
            ("Publish", Bool),
            ("DryRun", Bool),
            ("RevisionId", Str),
            ("Architectures", ARCHITECTURES),
            ("SourceKMSKeyArn", Str),
        ],
        "UpdateFunctionConfiguration" => &[
            ("Role", Str),
            ("Handler", Str),
            ("Description", Str),
            ("Timeout", Int),
            ("MemorySize", Int),
            ("VpcConfig", VPC),
            ("Environment", ENVIRONMENT),
            ("Runtime", Str),
            ("DeadLetterConfig", DEAD_LETTER),
            ("KMSKeyArn", Str),
            ("TracingConfig", TRACING),
            ("RevisionId", Str),
            ("Layers", List(&Str)),
            ("FileSystemConfigs", FILE_SYSTEMS),
            ("ImageConfig", IMAGE),
            ("EphemeralStorage", EPHEMERAL),
            ("SnapStart", SNAP_START),
            ("LoggingConfig", LOGGING),
        ],
        "PublishVersion" => &[("CodeSha256", Str), ("Description", Str), ("RevisionId", Str)],
        "CreateAlias" => &[("Name", Str), ("FunctionVersion", Str), ("Description", Str), ("RoutingConfig", ROUTING)],
        "UpdateAlias" => &[("FunctionVersion", Str), ("Description", Str), ("RoutingConfig", ROUTING), ("RevisionId", Str)],
        _ => return None,
    })
}
