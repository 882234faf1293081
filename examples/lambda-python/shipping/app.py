"""shipping: a Lambda-style Python handler (guest-sdk/python) that quotes
shipping for a priced order (the `transform` task's output).

Input: the order, with `total`, `item_count` and `address.country`.
Output: {"carrier": ..., "cost": ..., "free": bool}.
A missing address fails with `AddressMissing`, which the example workflow
catches by that name.
"""
import logging

from rates import RATES, FREE_ABOVE

logger = logging.getLogger()


class AddressMissing(Exception):
    pass


def handler(event, context):
    address = event.get("address")
    if not address or "country" not in address:
        raise AddressMissing("order {} has no shipping address".format(event.get("id")))
    country = address["country"]
    carrier, base, per_item = RATES.get(country, RATES["*"])
    free = event.get("total", 0) >= FREE_ABOVE
    cost = 0 if free else round(base + per_item * event.get("item_count", 0), 2)
    logger.warning("order %s ships to %s by %s (request %s)", event.get("id"), country, carrier, context.aws_request_id)
    return {"carrier": carrier, "cost": cost, "free": free}
