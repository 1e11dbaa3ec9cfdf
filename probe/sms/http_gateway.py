"""The HTTP gateway back-end's sending half: Kannel's ``sendsms``, and its delivery reports.

Reachability (DNS, TCP, TLS, an unauthenticated GET: any HTTP status, even 401, proves the API
is reachable) is the experiment's, with the web experiment's steps. With an account configured
the experiment then calls ``send``:

1. A listener for delivery reports is bound on ``[sms.http_gateway] dlr_listen`` first.
2. ``GET <input URL>?username=..&password=..&to=..&text=..&dlr-mask=31&dlr-url=<dlr_url>/dlr/<nonce>?type=%d``
   (Kannel replaces ``%d`` with the report type). 2xx is acceptance; 401/403 and other 4xx are
   ``probe_fault`` (credentials, parameters); 5xx is ``sms_submit_rejected``; a network failure
   is ``gateway_unreachable`` at stage http.
3. Reports are awaited, at most ``delivery_timeout``: type 1 delivered (``sms_ok``), 2 failed
   (``accepted_not_delivered``), 16 rejected by the SMSC (``sms_submit_rejected``), 4 and 8
   intermediate. Reports for other nonces are late events of earlier measurements.

Credentials and the number travel in the request's query, so they are sent over plain http only
to a loopback or private address (a gateway on this machine or its LAN); the request's URL is
never recorded, only its status code.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import Field, SecretStr

from probe.config import BackendSection, Config, Seconds, SMSRecipient, SMSSection
from probe.model import utc_now_iso
from probe.model.sms import LocalEvent, SMSTestKeys, message_text, new_nonce
from probe.net import http
from probe.net._deadline import Deadline
from probe.net.trace import Trace
from probe.sms import conclusion
from probe.sms.backend import Backend, SMSNetwork, SMSTarget
from probe.testlist import check_url

if TYPE_CHECKING:
    from probe.sms.report_listener import ReportListener


class HTTPGatewaySection(BackendSection):
    """``[sms.http_gateway]``."""

    kind: Literal["kannel"] = Field("kannel", description="API spoken to send: Kannel's sendsms.")
    username: str = Field("", description="Gateway account; empty: a DNS/TCP/TLS/HTTP reachability check only.")
    password: SecretStr = Field(SecretStr(""), description="Gateway password.")
    sender: SecretStr = Field(SecretStr(""), description="Sender ('from'), if the gateway wants one.")
    recipient: str = Field("self-loop", description="Label in [sms.recipients] the SMS is sent to.")
    dlr_listen: str = Field(
        "127.0.0.1:13080", description="host:port where the probe listens for the gateway's delivery reports."
    )
    dlr_url: str = Field("", description="Base URL the gateway calls for reports; default http://<dlr_listen>.")
    delivery_timeout: Seconds = Field(120.0, description="Seconds to wait for a final delivery report.")

    def recipient_label(self) -> str:
        return self.recipient


_listen_locks: dict[str, threading.Lock] = {}
_listen_locks_guard = threading.Lock()


def credentials_refusal(url: str, addresses: list[str]) -> str | None:
    """Why credentials must not be sent to ``url`` (plain http beyond this machine or LAN), or None."""
    if urlsplit(url).scheme == "https":
        return None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not (ip.is_loopback or ip.is_private):
            return "refusing to send credentials and a number over plain http to a public address"
    return None


def send(
    url: str,
    addresses: list[str],
    config: Config,
    recipient: SMSRecipient,
    keys: SMSTestKeys,
    trace: Trace,
) -> None:
    """Send one SMS through a Kannel-style gateway and wait for its report; outcome in ``keys``."""
    settings = BACKEND.settings(config.sms)
    refusal = credentials_refusal(url, addresses)
    if refusal:
        keys.send_result = "not_sent"
        keys.conclude("probe_fault", refusal)
        return
    with _listen_locks_guard:
        lock = _listen_locks.setdefault(settings.dlr_listen, threading.Lock())
    if not lock.acquire(timeout=settings.delivery_timeout + config.http.timeout):
        keys.conclude("probe_fault", "the delivery report listener is busy with another measurement")
        return
    try:
        try:
            from probe.sms.report_listener import ReportListener  # its HTTP server only when reports are awaited

            listener = ReportListener(settings.dlr_listen)
        except (OSError, ValueError) as exc:
            keys.conclude("probe_fault", f"cannot listen for delivery reports on {settings.dlr_listen}: {exc}")
            return
        try:
            if _submit(url, addresses, config, settings, recipient, keys, trace, listener.base):
                _await_report(listener, settings, keys)
        finally:
            listener.close()
    finally:
        lock.release()


def _submit(
    url: str,
    addresses: list[str],
    config: Config,
    settings: HTTPGatewaySection,
    recipient: SMSRecipient,
    keys: SMSTestKeys,
    trace: Trace,
    listener_base: str,
) -> bool:
    nonce = new_nonce()
    keys.local.backend, keys.local.nonce = "http_gateway", nonce
    params = {
        "username": settings.username,
        "password": settings.password.get_secret_value(),
        "to": recipient.number.get_secret_value(),
        "text": message_text(nonce),
        "dlr-mask": str(conclusion.KANNEL_DLR_MASK),
        "dlr-url": f"{(settings.dlr_url or listener_base).rstrip('/')}/dlr/{nonce}?type=%d",
    }
    if settings.sender.get_secret_value():
        params["from"] = settings.sender.get_secret_value()
    base = url.split("#", 1)[0]
    limits = config.http.model_copy(update={"max_redirects": 0})
    # The transaction (its URL holds the password and the number) is read here and dropped.
    transaction = http.fetch(
        f"{base}?{urlencode(params)}",
        trace,
        addresses=addresses,
        resolve=lambda _name: [],
        limits=limits,
        tcp_timeout=config.tcp.timeout,
        tls_timeout=config.tls.timeout,
        ca_bundle=config.tls.ca_bundle,
    )[-1]
    code = transaction.response.code if transaction.response is not None else None
    keys.submit_latency = round(transaction.t - transaction.t0, 3)
    keys.http_status = code
    if code is None:
        keys.send_result = "error"
        keys.conclude("gateway_unreachable", transaction.failure or "unknown_failure no_response", "http")
        return False
    if 200 <= code < 300:
        keys.send_result = "ok"
        keys.local.sent_at = utc_now_iso()
        return True
    keys.send_result = "rejected"
    if code >= 500:
        keys.conclude("sms_submit_rejected", f"HTTP {code}")
    else:
        keys.conclude("probe_fault", f"the gateway refused the request (HTTP {code}: credentials or parameters)")
    return False


def _await_report(listener: ReportListener, settings: HTTPGatewaySection, keys: SMSTestKeys) -> None:
    deadline = Deadline(settings.delivery_timeout)
    start = deadline.remaining()
    while keys.report_status not in ("delivered", "failed"):
        report = listener.next_report(deadline)
        if report is None:
            break
        nonce, kind = report
        status = conclusion.kannel_report(kind)
        if nonce != keys.local.nonce:
            keys.add_late(LocalEvent("report", status, str(kind), nonce=nonce))
            continue
        latency = round(start - deadline.remaining(), 3)
        keys.report_status, keys.report_code, keys.report_latency = status, str(kind), latency
        keys.local.events.append(LocalEvent("report", status, str(kind), nonce=nonce, latency=latency))
    if keys.report_code is not None and int(keys.report_code) & conclusion.KANNEL_SMSC_REJECT:
        keys.conclude("sms_submit_rejected", f"the SMSC rejected the message (report type {keys.report_code})")
        return
    keys.conclude(*conclusion.delivery_conclusion(keys.report_status, False))


# --- the back-end ----------------------------------------------------------------------------------------


def _parse(value: str, sms: SMSSection) -> SMSTarget:
    reason = check_url(value)
    parts = urlsplit(value)
    if not reason and (parts.username or parts.password or parts.query or parts.fragment):
        reason = "a gateway URL without credentials, query or fragment (credentials live in the config)"
    if reason:
        raise ValueError(reason)
    return SMSTarget(BACKEND.name, url=value, label=BACKEND.settings(sms).recipient)


def _measure_target(
    target: SMSTarget, config: Config, recipient: SMSRecipient | None, keys: SMSTestKeys, net: SMSNetwork
) -> None:
    reachable = net.reach(target.url, keys)
    if reachable is None:
        return
    if not BACKEND.settings(config.sms).username or recipient is None:
        keys.conclude("gateway_reachable", f"HTTP {keys.http_status} (reachability only: no gateway account)")
        return
    send(target.url, reachable, config, recipient, keys, net.trace)


BACKEND = Backend(
    name="http_gateway",
    section=HTTPGatewaySection,
    prefixes=("http://", "https://"),
    form="https://GATEWAY/PATH",
    check=check_url,
    parse=_parse,
    measure=_measure_target,
)
"""``https://sms.example.kz/cgi-bin/sendsms``: a gateway API (Kannel's sendsms)."""
