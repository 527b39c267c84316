"""p50/p95 of "upload -> batch created" on the local stack: from put_object of a catalogue under
incoming/{owner}/ to its receipt existing. The trigger writes the receipt right after the batch is
recorded and its items queued, so this is when a CMS could know the batch id. Prints the figures."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms

from imagegen.local.stack import LocalStack

WARMUP, UPLOADS = 3, 40
POLL_SECONDS = 0.01


def main() -> None:
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    stack = LocalStack(port=0, environ=environ).start()
    try:
        s3, bucket = stack.aws.client("s3"), stack.resource("ImagesBucket")

        def upload(n: int) -> float:
            """Seconds from the put to the receipt; one uncached two-icon catalogue each."""
            key = f"incoming/bench/catalogue-{n}.csv"
            body = f"category\nbench upload {n} a\nbench upload {n} b\n".encode()
            began = time.perf_counter()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            receipt_key = key.removesuffix(".csv") + "_receipt.json"
            while True:
                try:
                    found = json.loads(s3.get_object(Bucket=bucket, Key=receipt_key)["Body"].read())
                    break
                except s3.exceptions.NoSuchKey:
                    time.sleep(POLL_SECONDS)
            elapsed = time.perf_counter() - began
            if found["status"] != "accepted":
                raise RuntimeError(f"the catalogue was refused: {found}")
            return elapsed

        for n in range(WARMUP):
            upload(-1 - n)
        samples = [upload(n) for n in range(UPLOADS)]  # one at a time: latency, not queueing
        print(f"upload -> batch created (receipt written), one at a time:  {describe_ms(samples)}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
