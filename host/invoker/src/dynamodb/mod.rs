//! The built-in DynamoDB integrations: `dynamodb:getItem`, `putItem`,
//! `updateItem`, `deleteItem` (and their `aws-sdk:dynamodb` forms, with
//! `aws-sdk:dynamodb:query` and `scan`) on tables whose key schemas are
//! declared with `--dynamodb-table` and whose items live in stepbox's store.
//! Condition, key-condition, filter, update and projection expressions are
//! parsed as DynamoDB parses them (see `expr`); what is left out is listed
//! in docs/testing.md.

mod actions;
mod error;
mod eval;
mod expr;
mod tables;
mod value;

pub use error::{DynamoError, Flavour};
pub use tables::{BadTable, Decide, ItemStore, ItemWrite, KeyAttribute, MemoryItems, TableSchema, Tables};

use serde_json::Value;
use stepbox_asl::resource::{Pattern, Resource};
use stepbox_engine::{BoxFuture, TaskFailure};

/// The DynamoDB actions stepbox runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
}

/// The built-in DynamoDB action `r` names, if any (request-response only).
fn action(r: &Resource) -> Option<(Action, Flavour)> {
    if r.pattern != Pattern::RequestResponse {
        return None;
    }
    let flavour = match r.service.as_str() {
        "dynamodb" => Flavour::Optimized,
        "aws-sdk:dynamodb" => Flavour::AwsSdk,
        _ => return None,
    };
    let action = match (r.action.as_str(), flavour) {
        ("getItem", _) => Action::GetItem,
        ("putItem", _) => Action::PutItem,
        ("updateItem", _) => Action::UpdateItem,
        ("deleteItem", _) => Action::DeleteItem,
        ("query", Flavour::AwsSdk) => Action::Query,
        ("scan", Flavour::AwsSdk) => Action::Scan,
        _ => return None,
    };
    Some((action, flavour))
}

impl Tables {
    /// Runs `resource` with `params` for an execution of `account` if it is
    /// a built-in DynamoDB call (None: it is not one). Each account has its
    /// own items in the declared tables (tenants share schemas, not items).
    pub fn handle(&self, resource: &Resource, params: Value, account: &str) -> Option<BoxFuture<'static, Result<Value, TaskFailure>>> {
        let (action, flavour) = action(resource)?;
        let tables = self.for_account(account);
        Some(Box::pin(async move { call(&tables, action, flavour, &params).await }))
    }
}

/// Runs `action` with the state's parameters.
async fn call(tables: &Tables, action: Action, flavour: Flavour, params: &Value) -> Result<Value, TaskFailure> {
    let answer = match action {
        Action::GetItem => actions::get_item(tables, params).await,
        Action::PutItem => actions::put_item(tables, params).await,
        Action::UpdateItem => actions::update_item(tables, params).await,
        Action::DeleteItem => actions::delete_item(tables, params).await,
        Action::Query => actions::query(tables, params).await,
        Action::Scan => actions::scan(tables, params).await,
    };
    match answer {
        Ok(body) if flavour == Flavour::Optimized => Ok(with_sdk_metadata(body)),
        Ok(body) => Ok(body),
        Err(e) => Err(e.into_failure(flavour)),
    }
}

/// The optimized integration's answer carries the Java SDK's response
/// metadata next to the response's own fields.
fn with_sdk_metadata(mut body: Value) -> Value {
    let request_id = stepbox_asl::uuid_v4();
    let length = body.to_string().len().to_string();
    body["SdkHttpMetadata"] = serde_json::json!({
        "AllHttpHeaders": {
            "Content-Length": [length],
            "Content-Type": ["application/x-amz-json-1.0"],
            "x-amzn-RequestId": [request_id],
        },
        "HttpHeaders": {
            "Content-Length": length,
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": request_id,
        },
        "HttpStatusCode": 200,
    });
    body["SdkResponseMetadata"] = serde_json::json!({ "RequestId": request_id });
    body
}

#[cfg(test)]
mod tests;
