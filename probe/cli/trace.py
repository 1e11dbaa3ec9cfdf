"""``probe trace URL``: find the hop at which the request for a site is interfered with (needs root)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from probe.addresses import default_port, is_ip
from probe.cli.common import config_option
from probe.cli.output import table
from probe.config import load_config
from probe.errors import ProbeError
from probe.forensics.trace import CONTROL_HOST, DEFAULT_HOP_TIMEOUT, DEFAULT_MAX_TTL, TraceError, trace
from probe.net import dns
from probe.net.trace import Trace
from probe.resolvers import parse_resolver


@click.command(name="trace")
@config_option
@click.argument("url")
@click.option("--address", help="The site's address (default: resolved through the first configured resolver).")
@click.option("--control-host", default=CONTROL_HOST, show_default=True, help="The neutral name of the control.")
@click.option("--max-ttl", default=DEFAULT_MAX_TTL, show_default=True, type=click.IntRange(1, 64))
@click.option("--hop-timeout", default=DEFAULT_HOP_TIMEOUT, show_default=True, type=click.FloatRange(0.1, 10.0))
@click.option("--json", "as_json", is_flag=True, help="The whole trace as JSON.")
def trace_command(
    config_path: Path | None,
    url: str,
    address: str | None,
    control_host: str,
    max_ttl: int,
    hop_timeout: float,
    as_json: bool,
) -> None:
    """TTL-limited test and control requests: name the censoring hop (CenTrace's method)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    if address is None:
        address = host if is_ip(host) else _resolve(host, config_path)
    elif not is_ip(address):
        raise ProbeError(f"--address: not an IP address: {address!r}")
    port = parts.port or default_port(parts.scheme)
    try:
        result = trace(
            address,
            port,
            host,
            scheme=parts.scheme,
            path=parts.path or "/",
            control_host=control_host,
            max_ttl=max_ttl,
            hop_timeout=hop_timeout,
        )
    except TraceError as exc:
        raise ProbeError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(f"trace of {host} at {address}:{port} ({result.mode}), control {control_host}")
    click.echo(table(("ttl", "test", "control"), result.rows()))
    click.echo(result.conclusion)


def _resolve(host: str, config_path: Path | None) -> str:
    config = load_config(config_path)
    resolver = parse_resolver(config.dns.resolvers[0])
    queries = dns.lookup(host, resolver, "A", Trace(), timeout=config.dns.timeout, late_window=0.0)
    found = dns.addresses(queries)
    if not found:
        failure = next((q.failure for q in queries if q.failure), "no address")
        raise ProbeError(f"cannot resolve {host}: {failure} (give --address)")
    return found[0]
