"""The lab's DNS over UDP: an authoritative server for the lab's names, and forwarding resolvers.

- ``authoritative``: answers A for every lab site (and its ``www.``), NXDOMAIN for any other
  name. Every resolver asks it: there is no real recursion in the lab.
- ``Forwarder``: relays a query to the authoritative server and its answer back. The ISP's
  applies the censor's ``Policy`` first (NXDOMAIN or a lie of its choosing); the public one
  waits ``delay`` seconds before answering, as a resolver across an international link
  does, which is what lets an on-path injector's forged answer arrive first.

An upstream that cannot be reached (a shutdown) makes the forwarder answer SERVFAIL.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from probe.lab import plan
from probe.lab.policy import NXDOMAIN, PolicyFile
from probe.lab.servers import MAX_IN_FLIGHT, POLL

PORT = 53
TTL = 300
LIE_TTL = 60
UPSTREAM_TIMEOUT = 1.0
MAX_DATAGRAM = 4096


def authoritative_answer(query: dns.message.Message) -> dns.message.Message:
    """The lab's zone: an A record for a site or its ``www.``, NXDOMAIN for anything else."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if not query.question:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    name = question.name.to_text(omit_final_dot=True).lower()
    site = plan.site_for(name)
    if site is None or name not in (site.name, f"www.{site.name}"):
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, TTL, "IN", "A", site.address))
    return response


def lie(query: dns.message.Message, action: str, address: str | None) -> dns.message.Message:
    """A resolver's lie: NXDOMAIN, or one A record for ``address``."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    question = query.question[0]
    if action == NXDOMAIN:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A and address:
        response.answer.append(dns.rrset.from_text(question.name, LIE_TTL, "IN", "A", address))
    return response


def _parse(data: bytes) -> dns.message.Message | None:
    try:
        message = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError):
        return None
    if message.flags & dns.flags.QR or len(message.question) != 1:
        return None
    return message


class UDPServer:
    """A UDP socket on ``address:port`` and a loop that hands each datagram to ``handle``."""

    def __init__(self, address: str, port: int = PORT) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"dns-{address}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=2 * POLL + 1)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], POLL)
            if not readable:
                continue
            try:
                data, client = self.sock.recvfrom(MAX_DATAGRAM)
            except OSError:
                continue
            query = _parse(data)
            if query is not None:
                self.handle(query, data, client)

    def handle(self, query: dns.message.Message, data: bytes, client: tuple[str, int]) -> None:
        raise NotImplementedError

    def reply(self, wire: bytes, client: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # the client went away, or a rule drops our answers
            self.sock.sendto(wire, client)


class Authoritative(UDPServer):
    def handle(self, query: dns.message.Message, data: bytes, client: tuple[str, int]) -> None:
        self.reply(authoritative_answer(query).to_wire(), client)


class Forwarder(UDPServer):
    """A resolver that forwards to ``upstream``: the ISP's (with ``policy``) or a public one (with ``delay``)."""

    def __init__(self, address: str, upstream: str, *, delay: float = 0.0, policy: PolicyFile | None = None) -> None:
        super().__init__(address)
        self.upstream = upstream
        self.delay = delay
        self.policy = policy
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    def handle(self, query: dns.message.Message, data: bytes, client: tuple[str, int]) -> None:
        if not self._slots.acquire(blocking=False):
            return
        threading.Thread(target=self._answer, args=(query, data, client), daemon=True).start()

    def _answer(self, query: dns.message.Message, data: bytes, client: tuple[str, int]) -> None:
        try:
            started = time.monotonic()
            wire = self._resolve(query, data)
            wait = self.delay - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)
            self.reply(wire, client)
        finally:
            self._slots.release()

    def _resolve(self, query: dns.message.Message, data: bytes) -> bytes:
        if self.policy is not None:
            found = self.policy.current().lie_for(query.question[0].name.to_text())
            if found is not None:
                return lie(query, found.action, found.address).to_wire()
        answer = self._ask_upstream(query, data)
        if answer is None:
            failed = dns.message.make_response(query)
            failed.flags |= dns.flags.RA
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire()
        return answer

    def _ask_upstream(self, query: dns.message.Message, data: bytes) -> bytes | None:
        """The upstream's answer to ``data`` as is, or None (no answer in time, or unreachable)."""
        deadline = time.monotonic() + UPSTREAM_TIMEOUT
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            try:
                # Connected, so that an ICMP unreachable ends the wait at once.
                upstream.connect((self.upstream, PORT))
                upstream.send(data)
                for _ in range(8):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    upstream.settimeout(remaining)
                    answer = upstream.recv(MAX_DATAGRAM)
                    try:
                        if query.is_response(dns.message.from_wire(answer)):
                            return answer
                    except (dns.exception.DNSException, ValueError):
                        continue
            except OSError:
                return None
        return None
