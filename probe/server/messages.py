"""What a service sees and answers: a request's head (to admit or refuse unread), the whole request, a response."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: dict[str, str]
    """Lower-case names; a repeated header's values joined with ", "."""
    content_length: int

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


@dataclass(frozen=True)
class Request(RequestHead):
    body: bytes = b""
    peer: str = field(default="", repr=False)
    """The client's address, only for a server made with ``peer=True``: to look up, never to keep."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, json.dumps(document, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json(status, {"error": message})

    def encode(self, server_name: str = "", *, close: bool = True) -> bytes:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Status"
        head = f"HTTP/1.1 {self.status} {reason}\r\n"
        if server_name:
            head += f"Server: {server_name}\r\n"
        head += f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n"
        head += "Connection: close\r\n\r\n" if close else "\r\n"
        return head.encode("latin-1") + self.body


@dataclass(frozen=True)
class Admission:
    """A head a handler lets through; ``release`` runs once, when the request is over however it ends."""

    release: Callable[[], None] | None = None


ADMITTED = Admission()


class Handler:
    """What a service answers. ``admit`` runs on the loop thread: it must be quick and never wait."""

    def admit(self, head: RequestHead) -> Response | Admission:
        return ADMITTED

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def close(self) -> None:
        """Free what ``admit`` holds; runs on the loop thread when it stops."""
