//! The built-in DynamoDB integrations (`serve --dynamodb-table`) through
//! the API, on each store the items can live in: a conditional put, a
//! counter updated by several executions, a read, a query and a delete.

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use serde_json::{Value, json};
use stepbox_invoker::dynamodb::TableSchema;
use stepbox_server::ServerConfig;

use super::{Harness, create_machine, wait_closed};

fn config() -> ServerConfig {
    let tables = vec![TableSchema::parse("Orders=customer,placed:N").unwrap(), TableSchema::parse("Counters=id").unwrap()];
    ServerConfig { tables, ..ServerConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory() {
    items_are_kept_in_the_store(super::start_with(config()).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable() {
    let (h, _dir) = super::start_durable_with(config()).await;
    items_are_kept_in_the_store(h).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    items_are_kept_in_the_store(super::start_postgres_with(config()).await).await
}

async fn run(h: &Harness, sm: &str, input: Value) -> (ExecutionStatus, Value) {
    let started = h.sfn.start_execution().state_machine_arn(sm).input(input.to_string()).send().await.unwrap();
    let done = wait_closed(h, started.execution_arn()).await;
    let out = done.output().map(|o| serde_json::from_str(o).unwrap()).unwrap_or(json!({"error": done.error(), "cause": done.cause()}));
    (done.status().clone(), out)
}

async fn items_are_kept_in_the_store(h: Harness) {
    let place = json!({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "Orders", "Item": {"customer": {"S.$": "$.customer"}, "placed": {"N.$": "$.placed"},
                "total": {"N.$": "$.total"}}, "ConditionExpression": "attribute_not_exists(customer)"},
            "ResultPath": null, "Next": "Count"},
        "Count": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem",
            "Parameters": {"TableName": "Counters", "Key": {"id": {"S": "orders"}},
                "UpdateExpression": "ADD placed :one", "ExpressionAttributeValues": {":one": {"N": "1"}}},
            "ResultPath": null, "End": true}}});
    let place = create_machine(&h, "place", &place.to_string(), StateMachineType::Standard).await;
    for (customer, placed, total) in [("ann", "3", "10"), ("ann", "1", "25"), ("bob", "2", "7")] {
        let (status, out) = run(&h, &place, json!({"customer": customer, "placed": placed, "total": total})).await;
        assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    }
    // The same order again: the condition fails and nothing is counted.
    let (status, out) = run(&h, &place, json!({"customer": "bob", "placed": "2", "total": "99"})).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(out["error"], "DynamoDB.ConditionalCheckFailedException");

    let read = json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "Counters", "Key": {"id": {"S": "orders"}}},
            "ResultSelector": {"placed.$": "$.Item.placed.N"}, "ResultPath": "$.count", "Next": "Query"},
        "Query": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:query",
            "Parameters": {"TableName": "Orders", "KeyConditionExpression": "customer = :c",
                "ExpressionAttributeValues": {":c": {"S": "ann"}}, "ScanIndexForward": false},
            "ResultSelector": {"totals.$": "$.Items[*].total.N", "count.$": "$.Count"}, "ResultPath": "$.ann", "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:deleteItem",
            "Parameters": {"TableName": "Orders", "Key": {"customer": {"S": "bob"}, "placed": {"N": "2"}}, "ReturnValues": "ALL_OLD"},
            "ResultSelector": {"total.$": "$.Attributes.total.N"}, "ResultPath": "$.deleted", "End": true}}});
    let read = create_machine(&h, "read", &read.to_string(), StateMachineType::Standard).await;
    let (status, out) = run(&h, &read, json!({})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out, json!({"count": {"placed": "3"}, "ann": {"totals": ["10", "25"], "count": 2}, "deleted": {"total": "7"}}));
    let get = json!({"StartAt": "Get", "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
        "Parameters": {"TableName": "Orders", "Key": {"customer": {"S": "bob"}, "placed": {"N": "2"}}}, "End": true}}});
    let get = create_machine(&h, "get", &get.to_string(), StateMachineType::Standard).await;
    let (status, gone) = run(&h, &get, json!({})).await;
    assert_eq!((status, gone), (ExecutionStatus::Succeeded, json!({})), "bob's order is deleted");
    h.server.shutdown().await.unwrap();
}
