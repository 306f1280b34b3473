"""Amazon DynamoDB: one lock per request, so a response is built from the items it changed."""

from __future__ import annotations

import threading

_DYNAMODB_LOCK = threading.RLock()


_DYNAMODB_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
)
