"""The ``web`` experiment: DNS, TCP, TLS and HTTP reachability of one URL.

Method (after OONI's web_connectivity, see ``methodology.md``):
1. DNS through every configured resolver; the first resolver's answer (normally the
   system's) is the one used next, the others are kept for comparison, and every UDP
   query keeps listening briefly for extra answers (the injection signature).
2. TCP connect to every resolved address on the URL's port (and ``[tcp] extra_ports``).
3. For https, a TLS handshake with the host as SNI over each connection.
4. An HTTP GET through the first address that worked, following redirects.

``failure`` is the HTTP request's failure, or the DNS/TCP/TLS failure that prevented it;
None when the page was fetched. Known false positives: a failure here is not yet a
verdict (the site may be down everywhere, or the link flaky); verdicts compare with a
control and retry, in a later stage.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.model import Measurement, WebTestKeys
from probe.net import dns, http
from probe.net.resolvers import parse_resolver
from probe.net.trace import Trace
from probe.testlist import check_url

DEFAULT_PORTS = {"http": 80, "https": 443}


class WebExperiment:
    name = "web"
    version = "0.1.0"
    test_name = "web_connectivity"

    def check_input(self, value: str) -> str | None:
        return check_url(value)

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: self._measure(value, ctx, trace))

    def _measure(self, url: str, ctx: Context, trace: Trace) -> Outcome:
        config = ctx.config
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        keys = WebTestKeys()
        resolved = steps.resolve(host, config, trace)
        keys.queries = resolved.queries
        keys.dns_experiment_failure = resolved.failure
        if resolved.failure:
            return Outcome(keys, resolved.failure, "dns")

        sni = host if parts.scheme == "https" else None
        connected = steps.connect_all(resolved.addresses, port, config, trace, server_name=sni)
        for extra in sorted(set(config.tcp.extra_ports) - {port}):
            keys.tcp_connect.extend(steps.connect_all(resolved.addresses, extra, config, trace).tcp_connect)
        keys.tcp_connect = connected.tcp_connect + keys.tcp_connect
        keys.tls_handshakes = connected.tls_handshakes
        if not connected.reachable:
            keys.http_experiment_failure = connected.failure
            return Outcome(keys, connected.failure, connected.failed_step)

        keys.requests = http.fetch(
            url,
            trace,
            addresses=connected.reachable,
            resolve=lambda name: self._resolve_redirect(name, ctx, trace),
            limits=config.http,
            tcp_timeout=config.tcp.timeout,
            tls_timeout=config.tls.timeout,
            ca_bundle=config.tls.ca_bundle,
        )
        failure = keys.requests[0].failure if keys.requests else "unknown_failure no_request"
        keys.http_experiment_failure = failure
        return Outcome(keys, failure, "http" if failure else None)

    @staticmethod
    def _resolve_redirect(name: str, ctx: Context, trace: Trace) -> list[str]:
        """Addresses for a redirect's host, from the first configured resolver."""
        if steps.is_ip(name):
            return [name]
        resolver = parse_resolver(ctx.config.dns.resolvers[0])
        queries = dns.lookup(
            name,
            resolver,
            ctx.config.dns.query_types[0],
            trace,
            timeout=ctx.config.dns.timeout,
            late_window=0.0,
        )
        return dns.addresses(queries)
