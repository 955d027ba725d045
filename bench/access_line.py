"""What a request's accounting costs the event loop: its access line through ``logging`` (a
record, service.logs' JSON formatter, a stream handler) as the service wrote it before, and its
metrics and access line through service/accounting.py as it does now, with and without the line,
all writing to ``os.devnull``.

``python -m bench.access_line``: best of 5 rounds of 20,000 requests each, inside a running
event loop (where the service accounts them, so they go in batches as they do when serving).
"""

import asyncio
import logging
import os
import timeit

from service.access_log import AccessLog
from service.accounting import Accounting
from service.logs import JsonFormatter
from service.metrics import Metrics

REQUESTS = 20_000
SCOPE = {"method": "GET", "path": "/sample"}
FIELDS = ("/sample", 200, 0.00234, "0123456789abcdef0123456789abcdef")


def through_logging(stream) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bench.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def microseconds(account) -> float:
    async def rounds() -> float:
        return min(timeit.repeat(account, number=REQUESTS, repeat=5)) / REQUESTS * 1e6

    return asyncio.run(rounds())


def main() -> None:
    with open(os.devnull, "w") as null:
        logger = through_logging(null)
        path, status, seconds, current = FIELDS
        duration_ms = round(seconds * 1000, 3)
        extra = {"request_id": current, "method": "GET", "path": path, "status": status,
                 "duration_ms": duration_ms}  # fmt: skip

        def logged() -> None:
            logger.info("%s %s %d %.1f ms request_id=%s", "GET", path, status, duration_ms,
                        current, extra=extra)  # fmt: skip

        def null_write(text: str) -> None:
            null.write(text)
            null.flush()

        with_line = Accounting(Metrics(), AccessLog(json_lines=True, write=null_write))
        without = Accounting(Metrics(), None)
        old = microseconds(logged)
        new = microseconds(lambda: with_line(SCOPE, *FIELDS))
        metrics = microseconds(lambda: without(SCOPE, *FIELDS))
    print(f"access line through logging:                    {old:6.1f} us")
    print(f"metrics and access line, service.accounting:    {new:6.1f} us")
    print(f"of which the access line (the same without it): {new - metrics:6.1f} us")


if __name__ == "__main__":
    main()
