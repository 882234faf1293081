"""A Lambda-style Python handler for stepbox's tests: what it does is chosen
by the event's "action"."""
import logging
import os

import textcase  # vendored in the function's sources, as `pip install -t .` does

logger = logging.getLogger()


class OrderRejected(Exception):
    pass


def handler(event, context):
    action = event.get("action", "echo")
    if action == "echo":
        print("echo", context.aws_request_id)
        logger.warning("warned about %s", event.get("name"))
        logger.info("not logged: the root logger's level is WARNING, as on Lambda")
        return {"event": event, "shout": textcase.shout(event.get("name", ""))}
    if action == "context":
        return {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "invoked_function_arn": context.invoked_function_arn,
        }
    if action == "env":
        return {name: os.environ.get(name) for name in event["names"]}
    if action == "raise":
        raise OrderRejected("order " + str(event.get("order")) + " rejected")
    if action == "loop":
        while True:
            pass
    if action == "grow":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if action == "recurse":
        return handler(event, context)
    if action == "unserializable":
        return {"when": object()}
    raise ValueError("unknown action " + action)
