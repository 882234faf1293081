//! The calls end to end on memory tables: what a Task state gets back.

use std::sync::Arc;

use serde_json::{Value, json};
use stepbox_asl::resource::Resource;
use stepbox_engine::TaskFailure;

use super::{MemoryItems, TableSchema, Tables};

fn tables() -> Tables {
    let schemas = vec![TableSchema::parse("Orders=pk,sk:N").unwrap(), TableSchema::parse("Counters=id").unwrap()];
    Tables::new(schemas, Arc::new(MemoryItems::default()))
}

async fn call(t: &Tables, resource: &str, params: Value) -> Result<Value, TaskFailure> {
    let r = Resource::parse(resource).unwrap();
    t.handle(&r, params, "111111111111").expect("a built-in call").await
}

async fn sdk(t: &Tables, action: &str, params: Value) -> Result<Value, TaskFailure> {
    call(t, &format!("arn:aws:states:::aws-sdk:dynamodb:{action}"), params).await
}

#[tokio::test]
async fn put_then_get_answers_the_item_and_optimized_calls_carry_metadata() {
    let t = tables();
    let item = json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "data": {"S": "x"}});
    assert_eq!(sdk(&t, "putItem", json!({"TableName": "Orders", "Item": item})).await.unwrap(), json!({}));
    let got = sdk(&t, "getItem", json!({"TableName": "Orders", "Key": {"pk": {"S": "a"}, "sk": {"N": "1.0"}}})).await.unwrap();
    assert_eq!(got, json!({"Item": item}));
    let got = call(&t, "arn:aws:states:::dynamodb:getItem", json!({"TableName": "Orders", "Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}))
        .await
        .unwrap();
    assert!(got.get("Item").is_none());
    assert_eq!(got["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert!(got["SdkResponseMetadata"]["RequestId"].is_string());
}

#[tokio::test]
async fn a_false_condition_fails_and_writes_nothing() {
    let t = tables();
    let put = |v: &str| {
        json!({"TableName": "Counters", "Item": {"id": {"S": "c"}, "v": {"S": v}}, "ConditionExpression": "attribute_not_exists(id)"})
    };
    sdk(&t, "putItem", put("first")).await.unwrap();
    let e = call(&t, "arn:aws:states:::dynamodb:putItem", put("second")).await.unwrap_err();
    assert_eq!(e.error, "DynamoDB.ConditionalCheckFailedException");
    assert!(e.cause.starts_with("The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; \
                                 Error Code: ConditionalCheckFailedException; Request ID: "), "{}", e.cause);
    let e = sdk(&t, "putItem", put("second")).await.unwrap_err();
    assert_eq!(e.error, "DynamoDb.ConditionalCheckFailedException");
    let got = sdk(&t, "getItem", json!({"TableName": "Counters", "Key": {"id": {"S": "c"}}})).await.unwrap();
    assert_eq!(got["Item"]["v"], json!({"S": "first"}));
}

#[tokio::test]
async fn updates_count_and_answer_what_they_changed() {
    let t = tables();
    let bump = json!({
        "TableName": "Counters", "Key": {"id": {"S": "hits"}},
        "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one",
        "ExpressionAttributeNames": {"#n": "count"},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
        "ReturnValues": "UPDATED_NEW",
    });
    for expected in ["1", "2", "3"] {
        let got = sdk(&t, "updateItem", bump.clone()).await.unwrap();
        assert_eq!(got, json!({"Attributes": {"count": {"N": expected}}}));
    }
    let e = sdk(&t, "updateItem", json!({
        "TableName": "Counters", "Key": {"id": {"S": "hits"}}, "UpdateExpression": "SET id = :x",
        "ExpressionAttributeValues": {":x": {"S": "y"}},
    }))
    .await
    .unwrap_err();
    assert_eq!(e.error, "DynamoDb.DynamoDbException");
    assert!(e.cause.contains("Cannot update attribute id. This attribute is part of the key"), "{}", e.cause);
}

#[tokio::test]
async fn validation_errors_are_named_as_aws_names_them() {
    let t = tables();
    let e = call(&t, "arn:aws:states:::dynamodb:putItem", json!({"TableName": "Orders", "Item": null})).await.unwrap_err();
    assert_eq!(e.error, "DynamoDB.AmazonDynamoDBException");
    assert!(e.cause.starts_with(
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null \
         (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Request ID: "
    ), "{}", e.cause);
    let e = sdk(&t, "putItem", json!({"TableName": "Nope", "Item": {"id": {"S": "x"}}})).await.unwrap_err();
    assert_eq!(e.error, "DynamoDb.ResourceNotFoundException");
    assert!(e.cause.starts_with("Requested resource not found (Service: DynamoDb, Status Code: 400, Request ID: "), "{}", e.cause);
    let e = sdk(&t, "getItem", json!({"TableName": "Orders", "Key": {"pk": {"S": "a"}}})).await.unwrap_err();
    assert!(e.cause.starts_with("The provided key element does not match the schema"), "{}", e.cause);
    let e = sdk(&t, "putItem", json!({"TableName": "Counters", "Item": {"id": {"S": "x"}},
        "ExpressionAttributeValues": {":unused": {"S": "x"}}, "ConditionExpression": "attribute_not_exists(id)"}))
        .await
        .unwrap_err();
    assert!(e.cause.starts_with("Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"), "{}", e.cause);
}

#[tokio::test]
async fn query_reads_one_partition_in_sort_key_order_with_paging() {
    let t = tables();
    for (pk, sk) in [("a", "10"), ("a", "2"), ("b", "1"), ("a", "33"), ("ab", "1")] {
        let item = json!({"pk": {"S": pk}, "sk": {"N": sk}, "n": {"N": sk}});
        sdk(&t, "putItem", json!({"TableName": "Orders", "Item": item})).await.unwrap();
    }
    let q = json!({"TableName": "Orders", "KeyConditionExpression": "pk = :p AND sk > :min",
        "ExpressionAttributeValues": {":p": {"S": "a"}, ":min": {"N": "1"}}, "ProjectionExpression": "sk"});
    let got = sdk(&t, "query", q.clone()).await.unwrap();
    assert_eq!(got, json!({"Count": 3, "ScannedCount": 3, "Items": [{"sk": {"N": "2"}}, {"sk": {"N": "10"}}, {"sk": {"N": "33"}}]}));
    let mut first = q.clone();
    first["Limit"] = json!(2);
    let page = sdk(&t, "query", first).await.unwrap();
    assert_eq!(page["Count"], 2);
    let mut next = q;
    next["ExclusiveStartKey"] = page["LastEvaluatedKey"].clone();
    let rest = sdk(&t, "query", next.clone()).await.unwrap();
    assert_eq!(rest["Items"], json!([{"sk": {"N": "33"}}]));
    let scan = sdk(&t, "scan", json!({"TableName": "Orders", "FilterExpression": "n < :two",
        "ExpressionAttributeValues": {":two": {"N": "2"}}})).await.unwrap();
    assert_eq!((scan["Count"].clone(), scan["ScannedCount"].clone()), (json!(2), json!(5)));
    // Paging goes on after the start key even once its item is gone.
    let gone = json!({"TableName": "Orders", "Key": page["LastEvaluatedKey"].clone()});
    sdk(&t, "deleteItem", gone).await.unwrap();
    let rest = sdk(&t, "query", next).await.unwrap();
    assert_eq!(rest["Items"], json!([{"sk": {"N": "33"}}]));
}

#[tokio::test]
async fn each_account_has_its_own_items() {
    let t = tables();
    sdk(&t, "putItem", json!({"TableName": "Counters", "Item": {"id": {"S": "x"}}})).await.unwrap();
    let r = Resource::parse("arn:aws:states:::aws-sdk:dynamodb:getItem").unwrap();
    let key = json!({"TableName": "Counters", "Key": {"id": {"S": "x"}}});
    let other = t.handle(&r, key.clone(), "222222222222").unwrap().await.unwrap();
    assert_eq!(other, json!({}));
    let own = t.handle(&r, key, "111111111111").unwrap().await.unwrap();
    assert_eq!(own["Item"]["id"], json!({"S": "x"}));
}
