"""stepbox's adapter from the stepbox task world to a Lambda Python handler.

`stepbox build` (and the server, for a function created with a python3.x
runtime) builds this module, the user's sources and a generated
`_stepbox_handler` module naming the handler (`HANDLER = "app.handler"`) into
one component with componentize-py. The handler's module is imported when the
component is built (its pre-initialized snapshot is what every invocation
starts from), so an import error or a syntax error fails the build.

Each invocation calls `handler(event, context)` with the Task input as
`event` and a `LambdaContext` with Lambda's attributes. The return value is
serialized as JSON. An uncaught exception fails the task with the exception's
class name as the error, its message as the cause and its traceback as the
stack trace (the host wraps them in Lambda's envelope: errorMessage,
errorType, requestId, stackTrace).
"""

import importlib
import json
import linecache
import logging
import os
import sys
import time
import traceback

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

import _stepbox_handler

# Where Lambda deploys a function's code; tracebacks name files under it.
TASK_ROOT = "/var/task"
_SOURCE_ROOT = getattr(_stepbox_handler, "SOURCE_ROOT", "")

_LEVELS = [
    (logging.ERROR, host.LogLevel.ERROR),
    (logging.WARNING, host.LogLevel.WARN),
    (logging.INFO, host.LogLevel.INFO),
    (logging.DEBUG, host.LogLevel.DEBUG),
]


class _HostLogHandler(logging.Handler):
    """Sends `logging` records to the invocation's log, as Lambda's runtime
    sends them to CloudWatch; the root logger keeps Python's WARNING level,
    as on Lambda."""

    def emit(self, record):
        try:
            message = self.format(record)
        except Exception:  # a bad format string must not fail the handler
            message = str(record.msg)
        level = host.LogLevel.TRACE
        for threshold, name in _LEVELS:
            if record.levelno >= threshold:
                level = name
                break
        host.log(level, message)


def _install_logging():
    root = logging.getLogger()
    handler = _HostLogHandler()
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(message)s"))
    root.addHandler(handler)


class LambdaContext:
    """Lambda's `context` object (the attributes of Lambda's Python runtime)."""

    def __init__(self, ctx, started):
        env = os.environ
        self.aws_request_id = ctx.request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # Lambda's runtime gives the environment variable's text, not a number.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + self.function_name)
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn = env.get("STEPBOX_INVOKED_FUNCTION_ARN", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = started * 1000.0 + ctx.remaining_time_ms
        # stepbox's additions: the Step Functions side of the invocation.
        self.execution_name = ctx.execution_name
        self.execution_arn = ctx.execution_arn
        self.state_name = ctx.state_name
        self.retry_count = ctx.retry_count
        self.task_token = ctx.task_token

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.monotonic() * 1000.0), 0)

    def heartbeat(self):
        """Tell the host the task is alive (resets a HeartbeatSeconds timer)."""
        host.heartbeat()

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={}])".format(
                self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
            )
        )


def _task_path(filename):
    """A source file's name as Lambda reports it (under /var/task)."""
    if _SOURCE_ROOT and filename.startswith(_SOURCE_ROOT + "/"):
        rest = filename[len(_SOURCE_ROOT):].lstrip("/")
        return TASK_ROOT + "/" + rest
    return filename


def _stack_trace(exc):
    """Lambda's `stackTrace`: traceback.format_list entries without the
    adapter's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    for frame in frames:
        frame.filename = _task_path(frame.filename)
    return traceback.format_list(frames)


def _task_error(exc):
    return Err(types.TaskError(error=type(exc).__name__, cause=str(exc), stack_trace=_stack_trace(exc)))


class _BuildError(Exception):
    """The handler cannot be loaded; `error_type` and the message are
    Lambda's for the same failure at its init."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def _import(module_name):
    try:
        return importlib.import_module(module_name)
    except SyntaxError as e:
        where = " ({}, line {})".format(_relative(e.filename), e.lineno) if e.filename else ""
        raise _BuildError("Runtime.UserCodeSyntaxError",
                          "Syntax error in module '{}': {}{}".format(module_name, e.msg, where)) from e
    except ImportError as e:
        raise _BuildError("Runtime.ImportModuleError",
                          "Unable to import module '{}': {}".format(module_name, e)) from e
    except Exception as e:
        frames = traceback.extract_tb(e.__traceback__)
        where = ""
        if frames:
            where = " ({}, line {})".format(_relative(frames[-1].filename), frames[-1].lineno)
        raise _BuildError(type(e).__name__, "{}{}".format(e, where)) from e


def _relative(filename):
    """A source file's name relative to the function's code root."""
    if _SOURCE_ROOT and filename and filename.startswith(_SOURCE_ROOT + "/"):
        return filename[len(_SOURCE_ROOT):].lstrip("/")
    return filename


def _load_handler(spec):
    """`app.handler` -> the function `handler` of module `app` (a path such
    as `src/app.handler` names module `src.app`)."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise _BuildError("Runtime.MalformedHandlerName", "Bad handler '{}': not enough values to unpack".format(spec))
    module_name = module_name.replace("/", ".")
    module = _import(module_name)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _BuildError("Runtime.HandlerNotFound",
                          "Handler '{}' missing on module '{}'".format(function_name, module_name))
    return handler


def _keep_source_lines():
    """Keep the source lines of the function's modules in linecache: the
    sources are read while the component is built, not when it runs, and
    Lambda's stack traces quote each frame's line. An entry without mtime
    is never checked against the file again."""
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None) or ""
        if not (_SOURCE_ROOT and filename.startswith(_SOURCE_ROOT + "/")):
            continue
        try:
            with open(filename, encoding="utf-8") as f:
                lines = f.readlines()
        except (OSError, UnicodeDecodeError):
            continue
        linecache.cache[filename] = (sum(len(line) for line in lines), None, lines, filename)


_install_logging()
try:
    _handler = _load_handler(_stepbox_handler.HANDLER)
except _BuildError as _e:
    # One line the builder looks for: the reason a function's build failed.
    sys.stderr.write("stepbox-build-error: {}: {}\n".format(_e.error_type, str(_e).replace("\n", " ")))
    sys.stderr.flush()
    raise
_keep_source_lines()


class WitWorld(wit_world.WitWorld):
    def handle(self, input, ctx):
        started = time.monotonic()
        try:
            event = json.loads(input)
            result = _handler(event, LambdaContext(ctx, started))
        except Exception as exc:
            raise _task_error(exc)
        try:
            return json.dumps(result)
        except (TypeError, ValueError) as exc:
            # Lambda's runtime names this failure Runtime.MarshalError.
            message = "Unable to marshal response: {}".format(exc)
            raise Err(types.TaskError(error="Runtime.MarshalError", cause=message, stack_trace=[]))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
