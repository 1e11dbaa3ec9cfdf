"""``probe helper serve``: the test helper as a small HTTP/1.1 JSON service.

    POST /          a control request (see ``probe.helper.measure``) -> 200 and the control's view
    GET  /health    -> 200 {"ok": true, "helper": "..."}

Served by the shared server core (``probe.server``), which keeps it up while hostile or
slow clients try to tie it up: a client dripping its request holds no worker, one deadline
(``read_timeout``) bounds the whole request, the head and body (``max_request_bytes``) are capped,
and a complete request that finds every worker busy gets 503 at once. A measurement is bounded by
the config's timeouts and ``measure.HTTP_BUDGET``. An optional shared token,
``Authorization: Bearer <token>``, is compared in constant time. A client's address is never
logged; with IP databases it is looked up (``x_client_network``) and dropped.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from probe.config import Config
from probe.helper.ipdb import IPDatabases
from probe.helper.measure import HELPER_NAME, ControlMeasurement, ControlRequest, RequestError, parse_request
from probe.server import Handler, HTTPServer, Request, Response, ServerLimits

DEFAULT_PORT = 8765
DEFAULT_WORKERS = 16
MAX_REQUEST_BYTES = 16 * 1024
MAX_HEAD_BYTES = 8 * 1024
READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class HelperOptions:
    token: str = ""
    workers: int = DEFAULT_WORKERS
    max_request_bytes: int = MAX_REQUEST_BYTES
    read_timeout: float = READ_TIMEOUT
    allow_private: bool = False
    """Measure private addresses too (labs): loopback, link-local and unspecified ones never."""
    test_loopback: bool = False
    """In-process tests only (no command-line option sets it): measure 127.0.0.0/8 and ``::1`` as written,
    the addresses test servers listen on. Loopback carried in other IPv6 forms is refused all the same."""
    ip_databases: IPDatabases | None = None
    """Where the client's network (``x_client_network``) and ``ip_info`` ASNs come from."""


class _ControlHandler(Handler):
    def __init__(self, config: Config, options: HelperOptions) -> None:
        self.config = config
        self.options = options

    def handle(self, request: Request) -> Response:
        if request.path == "/health" and request.method == "GET":
            return Response.json(200, {"ok": True, "helper": HELPER_NAME})
        if request.path != "/":
            return Response.error(404, "no such path")
        if request.method != "POST":
            return Response.error(405, "POST a control request to /")
        if not self._authorized(request.headers.get("authorization", "")):
            return Response.error(401, "a valid token is required")
        try:
            control = parse_request(request.body)
        except RequestError as exc:
            return Response.error(400, str(exc))
        return Response.json(200, self._measurement(control, request.peer).run().document())

    def _measurement(self, control: ControlRequest, client: str) -> ControlMeasurement:
        databases = self.options.ip_databases
        options = self.options
        if databases is None:
            return ControlMeasurement(
                control, self.config, allow_private=options.allow_private, test_loopback=options.test_loopback
            )
        return ControlMeasurement(
            control,
            self.config,
            allow_private=options.allow_private,
            client_network=databases.network(client),  # looked up, never kept
            asn=databases.asn,
            test_loopback=options.test_loopback,
        )

    def _authorized(self, given: str) -> bool:
        token = self.options.token
        if not token:
            return True
        return hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {token}".encode())


class HelperServer(HTTPServer):
    """The helper listening on ``host:port`` (port 0: any free port, see ``port``)."""

    def __init__(
        self, config: Config, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, options: HelperOptions | None = None
    ) -> None:
        self.options = options or HelperOptions()
        limits = ServerLimits(
            workers=self.options.workers,
            request_timeout=self.options.read_timeout,
            max_head_bytes=MAX_HEAD_BYTES,
            max_body_bytes=self.options.max_request_bytes,
            max_buffered_bytes=self.options.max_request_bytes * 256,
        )
        handler = _ControlHandler(config, self.options)
        super().__init__(
            handler, host=host, port=port, limits=limits, name="helper", peer=self.options.ip_databases is not None
        )

    @property
    def url(self) -> str:
        return super().url + "/"
