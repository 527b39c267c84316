"""A test function for the event source: each invocation appends one JSON line to ECHO_LOG.

A message body is JSON: {"sleep": seconds, "fail_first": bool, "raise_first": bool}. `fail_first`
reports the record as failed on its first receive; `raise_first` makes the whole invocation raise.
"""

import json
import os
import time
from pathlib import Path
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.time()
    records = event["Records"]
    bodies = [json.loads(record["body"]) for record in records]
    first = [record["attributes"].get("ApproximateReceiveCount", "1") == "1" for record in records]
    time.sleep(max((body.get("sleep", 0) for body in bodies), default=0))
    failed = [
        record["messageId"]
        for record, body, is_first in zip(records, bodies, first, strict=True)
        if is_first and body.get("fail_first")
    ]
    raised = any(is_first and body.get("raise_first") for body, is_first in zip(bodies, first, strict=True))
    line = {
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        "ids": [record["messageId"] for record in records],
        "failed": failed,
        "raised": raised,
    }
    with Path(os.environ["ECHO_LOG"]).open("a") as log:
        log.write(json.dumps(line) + "\n")
    if raised:
        raise RuntimeError("raise_first: this invocation fails as a whole")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
