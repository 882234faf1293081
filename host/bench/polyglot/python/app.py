# W3's Task in Python: the `processed` component's answer (the input plus
# "processed": true) as a Lambda handler. host/bench/README.md runs it.
def handler(event, context):
    event["processed"] = True
    return event
