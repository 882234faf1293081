"""docs/testing.md's features through botocore (the core of boto3), against the
`stepbox serve` scripts/sdk-testing.sh starts: python3 sdk_testing.py PORT BUCKETS."""

import json
import os
import sys
import time

import awscli  # noqa: F401 - puts the botocore the AWS CLI ships on the path
import botocore.config
import botocore.session

PORT, BUCKETS = sys.argv[1], sys.argv[2]
ROLE = "arn:aws:iam::111111111111:role/stepbox"

sfn = botocore.session.get_session().create_client(
    "stepfunctions",
    region_name="us-east-1",
    endpoint_url=f"http://127.0.0.1:{PORT}",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=botocore.config.Config(inject_host_prefix=False),
)


def machine(name, states, start):
    definition = json.dumps({"StartAt": start, "States": states})
    return sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]


def finished(arn):
    for _ in range(500):
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.02)
    raise AssertionError(f"{arn} still running")


def mocked_bound_and_built_in():
    """A test case's mocked Lambda (retried twice), a bound SQS call, S3 on local files."""
    arn = machine("OrderFlow", {
        "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
                   "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 2}],
                   "ResultPath": "$.payment", "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": "q", "MessageBody.$": "$.payment"}, "ResultPath": "$.sent", "Next": "Store"},
        "Store": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                  "Parameters": {"Bucket": "reports", "Key": "payment.json", "Body.$": "$.payment"},
                  "ResultPath": None, "Next": "Load"},
        "Load": {"Type": "Task", "Resource": "arn:aws:states:::s3:getObject",
                 "Parameters": {"Bucket": "reports", "Key": "payment.json"}, "ResultSelector": {"body.$": "$.Body"},
                 "ResultPath": "$.loaded", "End": True},
    }, "Charge")
    started = sfn.start_execution(stateMachineArn=arn + "#ChargeOnly", name="py")
    assert started["executionArn"] == "arn:aws:states:us-east-1:111111111111:execution:OrderFlow:py", started
    done = finished(started["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert done["stateMachineArn"] == arn, done
    out = json.loads(done["output"])
    assert out["payment"] == {"charged": 42, "currency": "EUR"}, out
    assert out["sent"]["Parameters"]["MessageBody"] == out["payment"], out
    assert json.loads(out["loaded"]["body"]) == out["payment"], out
    with open(os.path.join(BUCKETS, "reports", "payment.json")) as f:
        assert json.load(f) == out["payment"]
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert sum(e["type"] == "LambdaFunctionFailed" for e in events) == 2, events


def dynamodb_table():
    """A counter kept in a built-in DynamoDB table, bumped by three executions."""
    arn = machine("CountVisit", {
        "Bump": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem",
                 "Parameters": {"TableName": "Visits", "Key": {"page": {"S.$": "$.page"}},
                                "UpdateExpression": "ADD hits :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
                                "ReturnValues": "UPDATED_NEW"},
                 "ResultSelector": {"hits.$": "$.Attributes.hits.N"}, "End": True},
    }, "Bump")
    outputs = []
    for _ in range(3):
        done = finished(sfn.start_execution(stateMachineArn=arn, input=json.dumps({"page": "/home"}))["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        outputs.append(json.loads(done["output"])["hits"])
    assert outputs == ["1", "2", "3"], outputs
    missing = machine("NoTable", {"Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                                          "Parameters": {"TableName": "Nope", "Key": {"k": {"S": "x"}}}, "End": True}}, "Get")
    done = finished(sfn.start_execution(stateMachineArn=missing)["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "DynamoDB.ResourceNotFoundException", done


def unprovided():
    """An integration nothing provides names the ways to provide it."""
    arn = machine("Publish", {"Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                                          "Parameters": {"TopicArn": "t", "Message": "m"}, "End": True}}, "Publish")
    done = finished(sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "States.Runtime", done
    assert "--bind arn:aws:states:::sns:publish=FUNCTION" in done["cause"], done


tests = [mocked_bound_and_built_in, dynamodb_table, unprovided]
failed = 0
for test in tests:
    try:
        test()
        print(f"test {test.__name__} ... ok")
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print(f"test {test.__name__} ... FAILED: {e!r}")
print(f"test result: {'ok' if not failed else 'FAILED'}. {len(tests) - failed} passed; {failed} failed; 0 ignored (botocore testing)")
sys.exit(1 if failed else 0)
