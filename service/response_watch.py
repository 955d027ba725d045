"""Following one HTTP response through ASGI `send`, for middlewares that report on it.

A response is reported when its last body byte is handed to the server, which is when the client
has its answer: a request answered by the timeout middleware is reported then, not when its
abandoned handler finally returns. A request whose app fails before completing a response is
reported as the 500 the server then sends, when the middleware calls `complete` on the way out.
"""

from collections.abc import Callable

from starlette.types import Message, Send


class ResponseWatch:
    def __init__(self, send: Send, on_complete: Callable[[int], None]) -> None:
        self._send = send
        self._on_complete = on_complete
        self._reported = False
        self.status = 500  # if the app raises, the server error middleware answers 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete()

    def complete(self) -> None:
        """Report the response once, with the status sent (500 if none was)."""
        if not self._reported:
            self._reported = True
            self._on_complete(self.status)
