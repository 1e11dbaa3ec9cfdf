"""The ``web`` experiment: DNS, TCP, TLS and HTTP reachability of one URL.

Method (after OONI's web_connectivity; ``../shared/docs/methodology.md``, "One target, four steps"):
1. DNS through every configured resolver; the first resolver's answer (normally the
   system's) is the one used next, the others are kept for comparison, and every UDP
   query keeps listening briefly for extra answers (the injection signature).
2. TCP connect to every resolved address on the URL's port (and ``[tcp] extra_ports``).
3. For https, a TLS handshake with the host as SNI over each connection.
4. An HTTP GET over the first connection that worked (kept open from step 2/3, not made
   again: one ClientHello per connection, as a browser), following redirects.

With ``[control] url`` set, a test helper (OONI's protocol, ``probe.helper``) is asked for its
view of the URL (with the addresses resolved here) while the target is measured; its answer is ``test_keys.control``
(or ``control_failure``). A target that fails is tried again, up to ``[control] retries``
times, stopping at the first success (``test_keys.x_retries``), and when every try failed the
helper is asked again (``x_control_after``): retries sandwiched by controls (same document,
"Control: the view from outside").

``failure`` is the first try's HTTP request failure, or the DNS/TCP/TLS failure that
prevented it; None when the page was fetched. Known false positives: a failure here is not
yet a verdict (the site may be down everywhere, or the link flaky); the verdict stage
(``probe.verdict``) compares with the control and the retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from probe.addresses import DEFAULT_PORTS, format_endpoint, is_ip
from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.model import HTTPTransaction, Measurement, WebTestKeys
from probe.model.control import ControlRequest
from probe.net import dns, http
from probe.net.names import canonical_name
from probe.net.trace import Trace
from probe.resolvers import parse_resolver
from probe.testlist import check_url

_RETRY_KEYS = ("queries", "tcp_connect", "tls_handshakes", "requests", "dns_experiment_failure")
ControlAnswer = tuple[dict[str, Any] | None, str | None]


class WebExperiment:
    name = "web"
    version = "0.1.0"
    test_name = "web_connectivity"
    inputs = "http(s) URLs"

    def check_input(self, value: str) -> str | None:
        return check_url(value)

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: self._measure(value, ctx, trace))

    def _measure(self, url: str, ctx: Context, trace: Trace) -> Outcome:
        settings = ctx.config.control
        if not settings.url:
            return self._attempt(url, ctx, trace)
        asked: list[Future[ControlAnswer]] = []
        resolved: list[str] = []

        def remember(addresses: list[str]) -> None:
            resolved[:] = addresses

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="control") as pool:

            def ask(addresses: list[str]) -> None:
                remember(addresses)
                asked.append(pool.submit(self._ask_control, url, addresses, ctx))

            first = self._attempt(url, ctx, trace, on_resolved=ask)
            if not asked:
                ask([])
            control, control_failure = asked[0].result()
        keys = first.test_keys
        assert isinstance(keys, WebTestKeys)
        keys.control, keys.control_failure = control, control_failure
        if first.failure is None or settings.retries == 0:
            return first
        retries: list[dict[str, Any]] = []
        for _ in range(settings.retries):
            time.sleep(settings.retry_delay)
            again = self._attempt(url, ctx, trace, on_resolved=remember)
            retries.append(_retry_record(again))
            if again.failure is None:
                break
        keys.x_retries = retries
        if retries[-1]["x_failure"] is not None:
            keys.x_control_after, keys.x_control_after_failure = self._ask_control(url, resolved, ctx)
        return first

    @staticmethod
    def _ask_control(url: str, addresses: list[str], ctx: Context) -> ControlAnswer:
        config = ctx.config
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        request = ControlRequest(
            http_request=url,
            http_request_headers={"User-Agent": [config.http.user_agent]},
            tcp_connect=[format_endpoint(ip, port) for ip in addresses[: config.tcp.max_addresses]],
        )
        answer, failure = ctx.helpers.ask(request, timeout=config.control.timeout, connect_timeout=config.tcp.timeout)
        return (answer.document() if answer is not None else None), failure

    def _attempt(
        self, url: str, ctx: Context, trace: Trace, on_resolved: Callable[[list[str]], None] | None = None
    ) -> Outcome:
        """One try of the target: DNS, TCP (+TLS), HTTP; ``on_resolved`` is called once DNS is done."""
        config = ctx.config
        parts = urlsplit(url)
        host = canonical_name(parts.hostname or "")  # IDNA 2008, as a browser puts it on the wire
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        keys = WebTestKeys()
        resolved = steps.resolve(host, config, trace)
        if on_resolved is not None:
            on_resolved(resolved.addresses)
        keys.queries = resolved.queries
        keys.dns_experiment_failure = resolved.failure
        if resolved.failure:
            return Outcome(keys, resolved.failure, "dns")

        sni = host if parts.scheme == "https" else None
        # The HTTP step uses the connection made here (one ClientHello per connection, as a browser).
        connected = steps.connect_all(resolved.addresses, port, config, trace, server_name=sni, keep=True)
        requests: list[HTTPTransaction] = []
        try:
            if connected.reachable:
                connection, connected.connection = connected.connection, None
                requests = http.fetch(
                    url,
                    trace,
                    addresses=connected.reachable,
                    resolve=lambda name: self._resolve_redirect(name, ctx, trace),
                    limits=config.http,
                    tcp_timeout=config.tcp.timeout,
                    tls_timeout=config.tls.timeout,
                    ca_bundle=config.tls.ca_bundle,
                    connection=connection,
                )
        finally:
            connected.close()
        keys.tcp_connect = connected.tcp_connect
        for extra in sorted(set(config.tcp.extra_ports) - {port}):
            keys.tcp_connect += steps.connect_all(resolved.addresses, extra, config, trace).tcp_connect
        keys.tls_handshakes = connected.tls_handshakes
        if not connected.reachable:
            keys.http_experiment_failure = connected.failure
            return Outcome(keys, connected.failure, connected.failed_step)
        keys.requests = requests
        failure = requests[0].failure if requests else "unknown_failure no_request"
        keys.http_experiment_failure = failure
        return Outcome(keys, failure, "http" if failure else None)

    @staticmethod
    def _resolve_redirect(name: str, ctx: Context, trace: Trace) -> list[str]:
        """Addresses for a redirect's host, from the first configured resolver."""
        if is_ip(name):
            return [name]
        resolver = parse_resolver(ctx.config.dns.resolvers[0])
        queries = dns.lookup(
            name,
            resolver,
            ctx.config.dns.query_types[0],
            trace,
            timeout=ctx.config.dns.timeout,
            late_window=0.0,
            ca_bundle=ctx.config.tls.ca_bundle,
        )
        return dns.addresses(queries)


def _retry_record(outcome: Outcome) -> dict[str, Any]:
    """One retry as stored in ``x_retries``: its steps, and the failure that decided it."""
    record = outcome.test_keys.model_dump(mode="json", include={*_RETRY_KEYS, "http_experiment_failure"})
    record.update(x_failure=outcome.failure, x_failed_step=outcome.failed_step)
    return record
