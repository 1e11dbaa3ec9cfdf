"""Configuration, declared once as pydantic models; loaded from TOML (``configs/default.toml``).

Relative paths in a config file are taken from the current working directory, so the
shipped config works when the probe is run from the project's root.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from probe.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("configs/default.toml")

Seconds = Annotated[float, Field(gt=0, le=600)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSection(_Section):
    data_dir: Path = Field(Path("measurements"), description="Where the SQLite database and exports live.")
    concurrency: int = Field(32, ge=1, le=512, description="How many targets are measured at once.")
    probe_asn: str = Field(
        "AS0", pattern=r"^AS\d+$", description="The network's ASN, set by the volunteer; never guessed."
    )
    probe_cc: str = Field(
        "ZZ", pattern=r"^[A-Z]{2}$", description="The country code, set by the volunteer; never guessed."
    )
    test_list: Path | None = Field(None, description="The test list to measure (Citizen Lab CSV or one URL a line).")


class DNSSection(_Section):
    resolvers: list[str] = Field(
        default_factory=lambda: ["system"],
        description='Resolvers to ask: "system" (getaddrinfo), "udp://IP:PORT" or "tcp://IP:PORT".',
    )
    query_types: list[str] = Field(
        default_factory=lambda: ["A"], description="Record types asked of udp/tcp resolvers (A, AAAA)."
    )
    timeout: Seconds = Field(5.0, description="Seconds to wait for the first answer to a query.")
    late_answer_window: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Seconds to keep listening after the first UDP answer for extra answers (injection).",
    )

    @field_validator("resolvers")
    @classmethod
    def _resolvers_parse(cls, value: list[str]) -> list[str]:
        from probe.net.resolvers import parse_resolver

        for spec in value:
            try:
                parse_resolver(spec)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("query_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if t not in ("A", "AAAA")]
        if bad or not value:
            raise ValueError(f"query types must be A and/or AAAA, got {value}")
        return value


class TCPSection(_Section):
    timeout: Seconds = Field(5.0, description="Seconds to wait for a TCP connection.")
    extra_ports: list[int] = Field(
        default_factory=list,
        description="Ports connected to besides the URL's own (OONI also tries 443 for http URLs).",
    )
    max_addresses: int = Field(8, ge=1, le=64, description="Most resolved addresses connected to per target.")


class TLSSection(_Section):
    timeout: Seconds = Field(5.0, description="Seconds to wait for a TLS handshake.")
    ca_bundle: Path | None = Field(None, description="PEM file of trusted roots; default: the system store.")


class HTTPSection(_Section):
    timeout: Seconds = Field(10.0, description="Seconds one HTTP round trip (request to end of body) may take.")
    max_body_bytes: int = Field(
        1 << 20, ge=0, le=1 << 28, description="Body bytes kept per response; the rest is not read."
    )
    max_header_bytes: int = Field(65536, ge=1024, le=1 << 22, description="Response header bytes accepted.")
    max_redirects: int = Field(10, ge=0, le=50, description="Redirects followed before giving up.")
    user_agent: str = Field(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        description="User-Agent sent with every request (a common browser's, as OONI does).",
    )


class Config(_Section):
    probe: ProbeSection = Field(default_factory=ProbeSection)
    dns: DNSSection = Field(default_factory=DNSSection)
    tcp: TCPSection = Field(default_factory=TCPSection)
    tls: TLSSection = Field(default_factory=TLSSection)
    http: HTTPSection = Field(default_factory=HTTPSection)


def _one_line(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{source}: {key}: {first['msg']}{suffix}"


def parse_config(data: dict[str, object], source: str = "config") -> Config:
    """Validate a config mapping; unknown keys and wrong types raise ``ConfigError`` naming the key."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def load_config(path: Path | None = None) -> Config:
    """Load ``path``, or ``configs/default.toml`` if it exists, or the built-in defaults."""
    if path is None:
        if not DEFAULT_CONFIG_PATH.exists():
            return Config()
        path = DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))
