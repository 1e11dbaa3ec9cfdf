"""``probe helper serve``: run the test helper (outside the censored network).

    probe helper serve --host 0.0.0.0 --port 8765 --token-file /etc/probe-helper.token

The token (optional) is read from ``--token-file`` or the ``PROBE_HELPER_TOKEN`` environment
variable, never from the command line, where other users could read it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from probe.cli.common import config_option
from probe.config import load_config
from probe.errors import ProbeError
from probe.helper.ipdb import IPDatabases
from probe.helper.server import DEFAULT_PORT, DEFAULT_WORKERS, HelperOptions, HelperServer

TOKEN_ENV = "PROBE_HELPER_TOKEN"


@click.group()
def helper() -> None:
    """The test helper: the control vantage point for web measurements."""


def _token(token_file: Path | None) -> str:
    if token_file is None:
        return os.environ.get(TOKEN_ENV, "").strip()
    try:
        return token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ProbeError(f"{token_file}: cannot read the token: {exc.strerror or exc}") from None


@helper.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=DEFAULT_WORKERS,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Requests measured at once; more get 503 at once.",
)
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), help="File holding the shared token.")
@click.option(
    "--allow-private-addresses",
    is_flag=True,
    help="Also measure private addresses (labs only: it opens the helper's own network); loopback, link-local "
    "and unspecified addresses are never measured.",
)
@click.option(
    "--asn-db",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="MMDB file of address -> ASN and network name (DB-IP ip-to-asn lite, IPinfo lite, GeoLite2 ASN).",
)
@click.option(
    "--country-db",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="MMDB file of address -> country (DB-IP ip-to-country lite, IPinfo lite, GeoLite2 Country).",
)
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    workers: int,
    token_file: Path | None,
    allow_private_addresses: bool,
    asn_db: Path | None,
    country_db: Path | None,
) -> None:
    """Answer control requests until interrupted (timeouts and limits from the config's [dns] ... [http]).

    With --asn-db/--country-db, each answer also tells the probe its network (x_client_network: ASN,
    network name, country of the address the request came from; never the address).
    """
    config = load_config(config_path)
    databases = IPDatabases(asn_db, country_db) if asn_db or country_db else None
    options = HelperOptions(
        token=_token(token_file), workers=workers, allow_private=allow_private_addresses, ip_databases=databases
    )
    try:
        server = HelperServer(config, host=host, port=port, options=options)
    except OSError as exc:
        raise ProbeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    auth = "token required" if options.token else "no token"
    click.echo(f"test helper listening on {server.url} ({workers} workers, {auth})", err=True)
    try:
        server.serve_forever()
    finally:
        server.close()
