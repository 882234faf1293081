//! DynamoDB's errors, named as each integration names them: the optimized
//! `arn:aws:states:::dynamodb:*` calls report `DynamoDB.ERROR` with the
//! AWS SDK for Java v1's cause (`… (Service: AmazonDynamoDBv2; Status Code:
//! 400; Error Code: ERROR; Request ID: …; Proxy: null)`), validation errors
//! as `DynamoDB.AmazonDynamoDBException`; the `aws-sdk:dynamodb:*` calls
//! report `DynamoDb.ERROR` with the v2 SDK's cause, validation errors as
//! `DynamoDb.DynamoDbException` (as AWS answered in the recorded corpus).

use stepbox_engine::TaskFailure;

/// Which integration made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `arn:aws:states:::dynamodb:ACTION`.
    Optimized,
    /// `arn:aws:states:::aws-sdk:dynamodb:ACTION`.
    AwsSdk,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynamoError {
    #[error("{0}")]
    Validation(String),
    #[error("Requested resource not found")]
    ResourceNotFound,
    #[error("The conditional request failed")]
    ConditionalCheckFailed,
    /// stepbox's store failed.
    #[error("{0}")]
    Internal(String),
}

impl DynamoError {
    pub fn validation(message: impl Into<String>) -> Self {
        DynamoError::Validation(message.into())
    }

    /// The error code DynamoDB answers with.
    pub fn code(&self) -> &'static str {
        match self {
            DynamoError::Validation(_) => "ValidationException",
            DynamoError::ResourceNotFound => "ResourceNotFoundException",
            DynamoError::ConditionalCheckFailed => "ConditionalCheckFailedException",
            DynamoError::Internal(_) => "InternalServerError",
        }
    }

    /// The state's error and cause for this failure.
    pub fn into_failure(self, flavour: Flavour) -> TaskFailure {
        let request_id = stepbox_asl::uuid_v4();
        let code = self.code();
        let status = if matches!(self, DynamoError::Internal(_)) { 500 } else { 400 };
        match flavour {
            Flavour::Optimized => {
                let name = match self {
                    DynamoError::Validation(_) => "AmazonDynamoDBException",
                    _ => code,
                };
                TaskFailure::new(
                    format!("DynamoDB.{name}"),
                    format!(
                        "{self} (Service: AmazonDynamoDBv2; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
                    ),
                )
            }
            Flavour::AwsSdk => {
                let name = match self {
                    DynamoError::Validation(_) => "DynamoDbException",
                    _ => code,
                };
                TaskFailure::new(
                    format!("DynamoDb.{name}"),
                    format!("{self} (Service: DynamoDb, Status Code: {status}, Request ID: {request_id})"),
                )
            }
        }
    }
}
