"""What one access line costs the event loop: through ``logging`` (a record, service.logs'
JSON formatter, a stream handler) as the service wrote it before, and through
service.access_log as it does now, both writing to ``os.devnull``.

``python -m bench.access_line``: best of 5 rounds of 20,000 lines each, inside a running event
loop (where the service writes them, so the access log batches as it does when serving).
"""

import asyncio
import logging
import os
import timeit

from service.access_log import AccessLog
from service.logs import JsonFormatter

LINES = 20_000
FIELDS = ("GET", "/sample", 200, 0.00234, "0123456789abcdef0123456789abcdef")


def through_logging(stream) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bench.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def microseconds(write_line) -> float:
    async def rounds() -> float:
        return min(timeit.repeat(write_line, number=LINES, repeat=5)) / LINES * 1e6

    return asyncio.run(rounds())


def main() -> None:
    with open(os.devnull, "w") as null:
        logger = through_logging(null)
        method, path, status, seconds, current = FIELDS
        duration_ms = round(seconds * 1000, 3)
        extra = {"request_id": current, "method": method, "path": path, "status": status,
                 "duration_ms": duration_ms}  # fmt: skip

        def logged() -> None:
            logger.info("%s %s %d %.1f ms request_id=%s", method, path, status, duration_ms,
                        current, extra=extra)  # fmt: skip

        def null_write(text: str) -> None:
            null.write(text)
            null.flush()

        access = AccessLog(json_lines=True, write=null_write)
        old, new = microseconds(logged), microseconds(lambda: access(*FIELDS))
    print(f"access line through logging:            {old:6.1f} us")
    print(f"access line through service.access_log: {new:6.1f} us  ({old / new:.1f}x less)")


if __name__ == "__main__":
    main()
