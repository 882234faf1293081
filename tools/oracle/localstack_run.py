"""Runs state machines on LocalStack's Step Functions interpreter, in process.

Reads a JSON array of {"definition": {...}, "input": ...} on stdin and writes
a JSON array of {"status", "output" | "error" + "cause"} on stdout. Lambda
functions are not called: a Lambda Task returns its payload (an echo).
Python 3.11 runs it after tools/oracle/setup.sh (which rewrites the few 3.12+
forms LocalStack's sources use).
"""
import datetime
import json
import sys
import threading
import _thread
import warnings

import typing_extensions


class _Lock:  # threading.Lock is a class from 3.13; LocalStack annotates with it.
    def __new__(cls, *a, **k):
        return _thread.allocate_lock()


threading.Lock = _Lock
if not hasattr(warnings, "deprecated"):
    warnings.deprecated = typing_extensions.deprecated

from localstack.aws.api.stepfunctions import StateMachineType  # noqa: E402
from localstack.services.stepfunctions.asl.component.state.state_execution.state_task import (  # noqa: E402
    lambda_eval_utils,
)
from localstack.services.stepfunctions.asl.eval.evaluation_details import (  # noqa: E402
    AWSExecutionDetails,
    EvaluationDetails,
    ExecutionDetails,
    StateMachineDetails,
)
from localstack.services.stepfunctions.asl.eval.program_state import (  # noqa: E402
    ProgramEnded,
    ProgramError,
)
from localstack.services.stepfunctions.backend.execution_worker import SyncExecutionWorker  # noqa: E402
from localstack.services.stepfunctions.backend.execution_worker_comm import (  # noqa: E402
    ExecutionWorkerCommunication,
)


def _echo_lambda(parameters, region, state_credentials):
    payload = parameters.get("Payload")
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode()
    try:
        payload = json.loads(payload) if isinstance(payload, str) else payload
    except json.JSONDecodeError:
        pass
    return {"StatusCode": 200, "Payload": payload}


lambda_eval_utils._invoke_lambda_function = _echo_lambda

ACCOUNT, REGION = "111111111111", "us-east-1"


class _Comm(ExecutionWorkerCommunication):
    def terminated(self):
        pass


def run(definition, inpt):
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm"
    details = EvaluationDetails(
        aws_execution_details=AWSExecutionDetails(ACCOUNT, REGION, f"arn:aws:iam::{ACCOUNT}:role/r"),
        execution_details=ExecutionDetails(
            arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:local",
            name="local",
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/r",
            inpt=inpt,
            start_time=datetime.datetime.now(tz=datetime.timezone.utc).isoformat(),
        ),
        state_machine_details=StateMachineDetails(
            arn=arn, name="sm", typ=StateMachineType.STANDARD, definition=json.dumps(definition)
        ),
    )
    worker = SyncExecutionWorker(details, _Comm(), None, {})
    try:
        worker.start()
    except Exception as e:  # a definition LocalStack refuses, or an interpreter crash
        return {"status": "CRASHED", "error": type(e).__name__, "cause": str(e)[:500]}
    state = worker.env.program_state()
    if isinstance(state, ProgramEnded):
        return {"status": "SUCCEEDED", "output": worker.env.states.get_input()}
    if isinstance(state, ProgramError):
        err = state.error or {}
        return {"status": "FAILED", "error": err.get("error"), "cause": err.get("cause")}
    return {"status": type(state).__name__}


def run_bounded(definition, inpt, seconds=20):
    """`run` on a thread, given up on after `seconds` (a wait or a map that
    never ends on LocalStack's side)."""
    out = {}
    t = threading.Thread(target=lambda: out.update(run(definition, inpt)), daemon=True)
    t.start()
    t.join(seconds)
    return out or {"status": "HUNG"}


def main():
    cases = json.load(sys.stdin)
    json.dump([run_bounded(c["definition"], c.get("input", {})) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
