"""An SMPP-like TCP listener for the lab's SMSC: it accepts, reads a PDU header, and answers
``generic_nack`` (invalid command) before closing. Enough for a TCP reachability experiment;
the SMS experiment proper will need more.
"""

from __future__ import annotations

import struct
import threading
from socketserver import BaseRequestHandler, TCPServer, ThreadingMixIn
from typing import Any

from probe.lab import plan
from probe.lab.servers import IO_TIMEOUT, POLL

GENERIC_NACK = 0x80000000
ESME_RINVCMDID = 0x00000003
HEADER_BYTES = 16


class _Handler(BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(IO_TIMEOUT)
        header = self.request.recv(HEADER_BYTES)
        sequence = struct.unpack("!I", header[12:16])[0] if len(header) == HEADER_BYTES else 0
        self.request.sendall(struct.pack("!IIII", HEADER_BYTES, GENERIC_NACK, ESME_RINVCMDID, sequence))


class _Server(ThreadingMixIn, TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that connects and leaves is what a reachability test does


class SMPPServer:
    def __init__(self, address: str = plan.SMSC.address, port: int = plan.SMPP_PORT) -> None:
        self._server = _Server((address, port), _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL}, name="smpp", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
