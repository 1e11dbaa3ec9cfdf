"""Configuration, declared once as pydantic models; loaded from TOML (the shipped ``configs/default.toml``).

Which file is read, and which data directory is used, is ``probe.paths``' search order. Relative paths in a
config file are taken from that file's directory (``~`` is the home directory), never from the current one, so a
config means the same wherever the probe is started. A relative path with nothing beside the config that names a
shipped file (``lists/kz-2011.csv``, ``fingerprints/zhanaozen.csv``) is that file, so a copy of the default
config (``probe init``) works anywhere.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from probe.defaults import shipped
from probe.errors import ConfigError
from probe.limits import DEFAULT_BATCH_BYTES, MAX_BODY_BYTES, MAX_ITEMS, MIN_BATCH_BYTES
from probe.paths import Located, default_data_dir, find_config
from probe.place import NetworkType, area_country, check_area, check_district
from probe.resolvers import parse_resolver

Seconds = Annotated[float, Field(gt=0, le=600)]
MASK = "**********"
"""What a secret is written as (pydantic's SecretStr shows the same)."""


def without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part masked: what may be stored, logged or shown."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{MASK}@{hostport}").geturl()


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an http or https URL, got {value!r}")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]
"""An http or https URL with a host (a collector, a test helper, a control site, a webhook, a list source)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSection(_Section):
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir().path,
        description="Where the SQLite database, the probe's key and exports live; default: the user's data "
        "directory, /var/lib/zhanaozen-probe for the system config, measurements/ in a source checkout "
        "(`probe paths` says which, and why).",
    )
    concurrency: int = Field(32, ge=1, le=512, description="How many targets are measured at once.")
    probe_asn: str = Field(
        "auto",
        pattern=r"^(AS\d+|auto)$",
        description='The network\'s ASN: "auto" (the test helper tells it, from the address it sees; AS0 when '
        "no helper can), or the volunteer's ASxxxx.",
    )
    probe_cc: str = Field(
        "auto",
        pattern=r"^([A-Z]{2}|auto)$",
        description='The country code: "auto" (the test helper tells it; ZZ when no helper can), or the volunteer\'s.',
    )
    test_list: Path | None = Field(None, description="The test list to measure (Citizen Lab CSV or one URL a line).")
    area: str = Field(
        "",
        description="Optional, opt-in: the ISO 3166-2 subdivision the probe is in (KZ-47 is Mangystau), so that a "
        "collector can tell a region cut off from a country blocked. Empty: the probe counts for its country only. "
        "With the network type it narrows down who you are (the consent notice says so).",
    )
    district: str = Field(
        "",
        description="Optional: the district (admin-2) name, e.g. Zhanaozen; needs an area. Nothing finer: no "
        "coordinates, no streets (names with digits are refused).",
    )
    network_type: NetworkType = Field(
        "unknown", description="The kind of network the probe measures from: fixed, mobile, satellite or unknown."
    )

    @field_validator("area")
    @classmethod
    def _area(cls, value: str) -> str:
        return check_area(value) if value.strip() else ""

    @field_validator("district")
    @classmethod
    def _district(cls, value: str) -> str:
        return check_district(value) if value.strip() else ""

    @model_validator(mode="after")
    def _place(self) -> ProbeSection:
        if self.district and not self.area:
            raise ValueError("district needs an area (the ISO 3166-2 subdivision it lies in)")
        if self.area and self.probe_cc != "auto" and area_country(self.area) != self.probe_cc:
            raise ValueError(f"area {self.area} is not in the probe's country {self.probe_cc}")
        return self


class DNSSection(_Section):
    resolvers: list[str] = Field(
        default_factory=lambda: ["system"],
        description='Resolvers to ask: "system" (getaddrinfo), "udp://IP:PORT", "tcp://IP:PORT", DNS over HTTPS '
        '"https://HOST/dns-query" or DNS over TLS "tls://IP:853".',
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


# --- SMS ------------------------------------------------------------------------------------
# [sms] is generic here: which back-ends are on, and the recipients. A back-end's own table
# ([sms.smpp], ...) is declared by its module in probe.sms, as a BackendSection, and named by its
# entry in probe.sms.backends' registry. This module is the bottom layer and cannot import that
# registry statically, so it imports it by name (SMS_BACKENDS_MODULE) when a config first names a
# back-end or holds a back-end's table: loading a config is enough, whatever was imported before.
# [sms] is validated once, here, with the back-ends' own models, and a bad name or field fails when
# the config is loaded. A command that measures no SMS (``probe results``, ``probe outages``) may load it with
# ``sms_tables="enabled"``: then only the tables of the back-ends [sms] backends lists are validated, and none
# is imported when it lists none (the shipped config), so reading a database does not load the SMS code.
# Phone numbers, passwords and sender ids are SecretStr: they are used, never written out (a run
# stores its config as JSON, where a SecretStr is "**********").

SMS_LABEL_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_NUMBER_PATTERN = r"^\+?[0-9]{3,20}$"


class SMSRecipient(_Section):
    number: SecretStr = Field(description="The phone number SMS are sent to; never stored, logged or exported.")
    direction: Literal["self_loop", "into_region", "out_of_region"] = Field(
        "self_loop", description="self_loop: the probe's own modem number (its receipt is awaited too)."
    )

    @field_validator("number")
    @classmethod
    def _digits(cls, value: SecretStr) -> SecretStr:
        if not re.match(_NUMBER_PATTERN, value.get_secret_value()):
            raise ValueError("a phone number: digits, optionally after +")
        return value


class BackendSection(_Section):
    """An SMS back-end's table, ``[sms.<name>]``: declared in the back-end's module, every field with a
    default (a back-end that is not configured is valid), secrets as ``SecretStr``."""

    def recipient_label(self) -> str | None:
        """The label in ``[sms.recipients]`` the back-end sends to, checked when it is enabled; None: none."""
        return None


Section = TypeVar("Section", bound=BackendSection)

SMS_BACKENDS_MODULE = "probe.sms.backends"
"""The registry of SMS back-ends, whose ``sections()`` gives each one's table by name. It is layers above this
module, so it is imported by name (never at import time: a config without SMS loads none of the back-ends)."""


SMSTables = Literal["all", "enabled"]
"""Which ``[sms.<name>]`` tables a config is validated with: every one (``all``, what a command that may measure
SMS loads), or only those of the back-ends ``[sms] backends`` lists (``enabled``, for a command that measures none:
the others are set aside unread, and no back-end is imported unless one is enabled)."""

_SMS_TABLES = "sms_tables"
"""The validation context's key for ``SMSTables``."""


def _backend_sections() -> Mapping[str, type[BackendSection]]:
    """The registered back-ends' tables by back-end name, read from the registry each time a config is validated."""
    sections: Callable[[], Mapping[str, type[BackendSection]]] = importlib.import_module(SMS_BACKENDS_MODULE).sections
    return sections()


def _names(sections: Mapping[str, type[BackendSection]]) -> str:
    return ", ".join(sections) or "none"


def _invalid_at(where: tuple[str, ...], exc: ValidationError | ValueError) -> ValidationError:
    """``exc`` as the errors of ``[sms.<where>]``, so that the one line names the table and its field."""
    if not isinstance(exc, ValidationError):
        line: InitErrorDetails = {"type": "value_error", "loc": where, "input": None, "ctx": {"error": exc}}
        return ValidationError.from_exception_data("SMSSection", [line])
    lines: list[InitErrorDetails] = []
    for error in exc.errors():
        detail: InitErrorDetails = {"type": error["type"], "loc": (*where, *error["loc"]), "input": error["input"]}
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        lines.append(detail)
    return ValidationError.from_exception_data("SMSSection", lines)


class SMSSection(_Section):
    """``[sms]``; each back-end's settings are its own table, ``[sms.<name>]`` (``section``)."""

    model_config = ConfigDict(extra="allow")

    backends: list[str] = Field(
        default_factory=list,
        description="Back-ends the sms experiment may use (probe.sms.backends registers them); empty (the "
        "default): SMS measurements are off.",
    )
    recipients: dict[str, SMSRecipient] = Field(
        default_factory=dict, description="Role labels (self-loop, peer, control) and the numbers they stand for."
    )

    @field_validator("backends")
    @classmethod
    def _registered(cls, value: list[str]) -> list[str]:
        known = _backend_sections() if value else {}
        for name in value:
            if name not in known:
                raise ValueError(f"unknown SMS back-end {name!r} (known: {_names(known)})")
        return value

    @field_validator("recipients")
    @classmethod
    def _labels(cls, value: dict[str, SMSRecipient]) -> dict[str, SMSRecipient]:
        bad = [label for label in value if not re.match(SMS_LABEL_PATTERN, label)]
        if bad:
            raise ValueError(f"recipient labels are role names (a letter first, a-z 0-9 _ -), got {bad[0]!r}")
        return value

    _set_aside: frozenset[str] = PrivateAttr(default=frozenset())
    """Tables not validated (``sms_tables="enabled"``, back-ends not enabled): ``section`` refuses them."""

    @model_validator(mode="after")
    def _backend_tables(self, info: ValidationInfo) -> SMSSection:
        tables = self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}
        if (info.context or {}).get(_SMS_TABLES) == "enabled":
            self._set_aside = frozenset(name for name in tables if name not in self.backends)
            for name in self._set_aside:
                del tables[name]
                self.__pydantic_fields_set__.discard(name)
        if not tables and not self.backends:
            return self  # no SMS: every back-end's settings are its defaults (section()), none loaded
        known = _backend_sections()
        for name, table in tables.items():
            model = known.get(name)
            if model is None:
                reason = f"not an SMS back-end's table (back-ends: {_names(known)})"
                raise _invalid_at((name,), ValueError(reason))
            try:
                tables[name] = model.model_validate(table)
            except ValidationError as exc:
                raise _invalid_at((name,), exc) from None
        for name, model in known.items():
            if name not in self._set_aside:
                tables.setdefault(name, model())
        for name in self.backends:
            label = tables[name].recipient_label()
            if label is not None and label not in self.recipients:
                raise _invalid_at((name, "recipient"), ValueError(f"{label!r} is not in [sms.recipients]"))
        return self

    def section(self, name: str, model: type[Section]) -> Section:
        """Back-end ``name``'s table, ``[sms.<name>]``, as validated (its defaults when the file has none)."""
        if name in self._set_aside:
            raise TypeError(f"[sms.{name}] was set aside unread: load the config with sms_tables='all' to use it")
        table = (self.__pydantic_extra__ or {}).get(name)
        if table is None:
            return model()
        if not isinstance(table, model):
            raise TypeError(f"[sms.{name}] is a {type(table).__name__}, not a {model.__name__}")
        return table


# --- unattended operation -------------------------------------------------------------------

Interval = Annotated[float, Field(gt=0, le=30 * 86400)]
_GROUP_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")


class GroupSection(_Section):
    experiment: str = Field(description="The experiment this group runs: any registered name (web, dns, tcp, ...).")
    every: Interval = Field(3600.0, description="Seconds from the start of one round of this group to the next.")
    jitter: float = Field(
        0.0, ge=0, le=86400, description="Up to this many seconds added at random to each round's start."
    )
    test_list: Path | None = Field(
        None,
        description="Inputs: a Citizen Lab CSV list, or one input a line; default: [probe] test_list when "
        "inputs is empty.",
    )
    inputs: list[str] = Field(default_factory=list, description="Inputs written here (added to the list's).")


class ScheduleSection(_Section):
    first_delay: float = Field(
        60.0, ge=0, le=86400, description="Seconds the daemon waits after it starts before running a due round."
    )
    groups: dict[str, GroupSection] = Field(
        default_factory=dict, description="Experiment groups the daemon runs, by name: [schedule.groups.NAME]."
    )

    @field_validator("groups")
    @classmethod
    def _names(cls, value: dict[str, GroupSection]) -> dict[str, GroupSection]:
        bad = [name for name in value if not re.match(_GROUP_NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"group names are a letter then a-z 0-9 _ - (at most 32), got {bad[0]!r}")
        return value


class UploadSection(_Section):
    enabled: bool = Field(False, description="Send measurements to the collector at url. Off until you set it.")
    url: HttpURL | None = Field(
        None, description="The collector's base URL (http or https); batches go to <url>/v1/batches."
    )
    proxy: SecretStr | None = Field(
        None,
        description="Proxy to the collector when it is blocked: http://H:P, socks5://H:P, or socks5h://H:P "
        "(socks5h also resolves the collector's name through the proxy). Never stored in runs.",
    )
    ca_bundle: Path | None = Field(None, description="PEM file of roots trusted for an https collector.")
    batch_size: int = Field(200, ge=1, le=MAX_ITEMS, description="Most measurements in one batch.")
    max_batch_bytes: int = Field(
        DEFAULT_BATCH_BYTES,
        ge=MIN_BATCH_BYTES,
        le=MAX_BODY_BYTES,
        description="Largest batch sent, in bytes (at most what a collector accepts by default, 16 MiB).",
    )
    timeout: Seconds = Field(30.0, description="Seconds one upload request may take (connect, then each read).")
    every: Interval = Field(300.0, description="Seconds between upload attempts while nothing fails.")
    backoff_min: Interval = Field(
        30.0, description="Seconds before retrying after a failed attempt; doubles each time."
    )
    backoff_max: Interval = Field(3600.0, description="Longest wait between retries.")

    @field_serializer("url")
    def _url_without_password(self, value: str | None) -> str | None:
        # A run keeps its config as JSON: a password in the collector's URL must not go with it.
        return None if value is None else without_password(value)

    @property
    def public_url(self) -> str | None:
        """The collector's URL as it may be stored, logged and shown: its password masked."""
        return None if self.url is None else without_password(self.url)

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in _PROXY_SCHEMES or not parts.hostname or not parts.port:
                raise ValueError(f"a proxy URL SCHEME://HOST:PORT with SCHEME one of {', '.join(_PROXY_SCHEMES)}")
        return value

    @model_validator(mode="after")
    def _enabled_needs_url(self) -> UploadSection:
        if self.enabled and self.url is None:
            raise ValueError("upload is enabled but [upload] url is not set")
        if self.backoff_min > self.backoff_max:
            raise ValueError("backoff_min is larger than backoff_max")
        return self


# --- control vantage, fingerprints, network context (verdicts) -------------------------------


class ControlSection(_Section):
    url: list[HttpURL] = Field(
        default_factory=list,
        description="Test helpers outside the censored network (OONI's web-connectivity helpers or "
        "`probe helper serve`), http(s)://HOST[:PORT]/, tried in order: a helper that fails is skipped for "
        "`skip_failed` seconds, a busy one (503) is retried after a pause within `timeout`. One URL may be given "
        "as a string. Empty: no control, no retries, and failures stay inconclusive.",
    )
    token: SecretStr = Field(SecretStr(""), description="Shared token the helpers ask for, if any.")
    timeout: Seconds = Field(
        30.0,
        description="Seconds to wait for a control answer (the helper measures the site itself meanwhile), "
        "pauses and retries of busy helpers included.",
    )
    skip_failed: Seconds = Field(
        300.0, description="Seconds a helper that failed (unreachable, bad answer) is skipped for the next one."
    )
    retries: int = Field(
        2, ge=0, le=5, description="Tries of a failing target after the first, between two asks of the control."
    )
    retry_delay: float = Field(1.0, ge=0, le=60, description="Seconds between two tries of a failing target.")

    @field_validator("url", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if isinstance(value, str):
            return [value] if value else []
        return value

    @field_serializer("url")
    def _urls_without_password(self, value: list[str]) -> list[str]:
        return [without_password(url) for url in value]


class FingerprintsSection(_Section):
    files: list[Path] = Field(
        default_factory=list,
        description="Blockpage fingerprint files in OONI's CSV format, loaded at run time "
        "(the project ships fingerprints/zhanaozen.csv).",
    )


class NetworkSection(_Section):
    domestic_controls: list[HttpURL] = Field(
        default_factory=list,
        description="URLs inside the country (a government or bank site), measured every round.",
    )
    international_controls: list[HttpURL] = Field(
        default_factory=list, description="URLs abroad (e.g. a large CDN's), measured every round."
    )
    gateway: str = Field(
        "auto",
        description="Asked (TCP port 53) only when every control fails, to tell a shutdown from a local fault: "
        '"auto" (the routing table\'s gateway), an IP address, or "" (never asked).',
    )

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str) -> str:
        if value not in ("", "auto"):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f'"auto", "" or an IP address, got {value!r}') from None
        return value


class ListsSection(_Section):
    source: HttpURL = Field(
        "https://raw.githubusercontent.com/citizenlab/test-lists/master/lists/",
        description="Where `probe lists update` fetches Citizen Lab's lists: <source>global.csv and <source><cc>.csv.",
    )
    licence: str = Field(
        "CC BY-NC-SA 4.0, Citizen Lab test lists (github.com/citizenlab/test-lists)",
        description="The lists' licence, recorded with each copy.",
    )
    timeout: Seconds = Field(30.0, description="Seconds one download may take.")
    max_bytes: int = Field(8 << 20, ge=1024, le=1 << 30, description="Largest list accepted.")
    use_cached: bool = Field(
        True, description="`probe run` (web, no --list) also measures the lists in <data_dir>/lists/."
    )

    @field_validator("source")
    @classmethod
    def _a_folder(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class AlertsSection(_Section):
    """Webhooks a collector notifies when an outage window opens or closes (``probe collector serve``)."""

    webhooks: list[HttpURL] = Field(
        default_factory=list,
        description="URLs (http or https) that receive each alert as a signed JSON POST; none: no alerts.",
    )
    key: Path | None = Field(
        None,
        description="The collector's Ed25519 key that signs alerts (made on first use, mode 0600); default: "
        "beside a SQLite database (collector.db -> collector.key), or <data_dir>/collector.key.",
    )
    state: Path | None = Field(
        None,
        description="Where sent alerts and pending deliveries are kept (SQLite); default: beside the key, alerts.db.",
    )
    check_every: Interval = Field(60.0, description="Seconds between two looks for windows that opened or closed.")
    lookback: Interval = Field(
        2 * 86400.0, description="Seconds of data read at each look (a window must have a point in them)."
    )
    min_confidence: Literal["low", "medium", "high"] = Field(
        "medium", description="Targeted blocks below this confidence are not alerted (shutdowns and cuts always are)."
    )
    regional: bool = Field(
        True,
        description="Also alert a collector's regional windows (probe outages --by district): national, regional "
        "and mobile shutdowns and international cuts, provisional ones (from the probes' silence) included, then "
        "confirmed, dropped or closed; SMS affected and targeted blocks from min_confidence.",
    )
    timeout: Seconds = Field(10.0, description="Seconds one webhook request may take.")
    backoff_min: Interval = Field(5.0, description="First wait before a failed delivery is tried again.")
    backoff_max: Interval = Field(1800.0, description="Longest wait between two tries of a delivery.")
    max_attempts: int = Field(20, ge=1, le=1000, description="Tries of one delivery before it is given up (logged).")


class RegionalSection(_Section):
    """The probes' schedules as a collector's regional detection assumes them (``probe outages --by district|area``
    and its alerts); unset: the shipped probe's (``probe.analysis.regional.Rules``). Set them when your probes'
    schedules differ."""

    bin_seconds: Interval | None = Field(
        None,
        description="The widest time bin (default 600 seconds): probes rounding more often are read in bins of "
        "their usual round interval (`probe outages --bin` sets a bin exactly).",
    )
    overdue_uploads: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Upload intervals of silence after which a probe is overdue, before its own grace (its median "
        "lateness, at least a round interval; default 1).",
    )
    resume_grace: Interval | None = Field(
        None,
        description="After the collector was down, the longest a probe may back off before it uploads again: the "
        "probes' [upload] backoff_max (default 3600 seconds).",
    )
    resume_backoff_min: Interval | None = Field(
        None, description="The probes' [upload] backoff_min (default 30 seconds)."
    )

    def overrides(self) -> dict[str, Any]:
        """The values set, by their ``Rules`` names."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class CollectorSection(_Section):
    alerts: AlertsSection = Field(default_factory=AlertsSection, description="Outage alerts to webhooks.")
    regional: RegionalSection = Field(
        default_factory=RegionalSection, description="Regional detection's view of the probes' schedules."
    )


class Config(_Section):
    probe: ProbeSection = Field(default_factory=ProbeSection)
    dns: DNSSection = Field(default_factory=DNSSection)
    tcp: TCPSection = Field(default_factory=TCPSection)
    tls: TLSSection = Field(default_factory=TLSSection)
    http: HTTPSection = Field(default_factory=HTTPSection)
    sms: SMSSection = Field(default_factory=SMSSection)
    schedule: ScheduleSection = Field(
        default_factory=ScheduleSection, description="What `probe daemon` runs, and how often."
    )
    upload: UploadSection = Field(
        default_factory=UploadSection, description="Where measurements are sent, if anywhere."
    )
    control: ControlSection = Field(
        default_factory=ControlSection, description="The test helper asked for each web measurement."
    )
    fingerprints: FingerprintsSection = Field(
        default_factory=FingerprintsSection, description="Blockpage fingerprints the verdicts use."
    )
    network: NetworkSection = Field(
        default_factory=NetworkSection, description="Controls that tell a shutdown from a targeted block."
    )
    lists: ListsSection = Field(
        default_factory=ListsSection, description="Citizen Lab's test lists kept current by `probe lists update`."
    )
    collector: CollectorSection = Field(
        default_factory=CollectorSection, description="What a collector does besides storing batches."
    )


def _one_line(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{source}: {key}: {first['msg']}{suffix}"


def parse_config(data: dict[str, object], source: str = "config", *, sms_tables: SMSTables = "all") -> Config:
    """Validate a config mapping; unknown keys and wrong types raise ``ConfigError`` naming the key.

    ``sms_tables``: which ``[sms.<name>]`` tables are validated (``SMSTables``)."""
    try:
        return Config.model_validate(data, context={_SMS_TABLES: sms_tables})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def _located(path: Path, base: Path) -> Path:
    """A path written in a config file in ``base``: beside it, else (a shipped file's name) the shipped file."""
    path = path.expanduser()
    if path.is_absolute():
        return path
    beside = base / path
    if not beside.exists():
        packaged = shipped(str(path))
        if packaged.exists():
            return packaged
    return beside


def _anchored(value: object, base: Path) -> object:
    if isinstance(value, Path):
        return _located(value, base)
    if isinstance(value, BaseModel):
        _anchor(value, base)
    elif isinstance(value, list):
        return [_anchored(item, base) for item in value]
    elif isinstance(value, dict):
        return {key: _anchored(item, base) for key, item in value.items()}
    return value


def _anchor(model: BaseModel, base: Path) -> None:
    """Take the relative paths a config file sets from ``base``, the file's directory (defaults are absolute)."""
    for name in model.model_fields_set:
        setattr(model, name, _anchored(getattr(model, name), base))


@dataclass(frozen=True)
class ConfigInUse:
    """The config, and which file and data directory it came with, and why (``probe paths``)."""

    config: Config
    source: Located
    data_dir: Located


def config_in_use(path: Path | None = None, *, sms_tables: SMSTables = "all") -> ConfigInUse:
    """Load ``path``, or the first config of ``probe.paths``' search order, and settle its data directory.

    ``sms_tables``: which ``[sms.<name>]`` tables are validated (``SMSTables``)."""
    source = find_config(path)
    try:
        text = source.path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source.path}: cannot read config ({source.why}): {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source.path}: not a config file: byte {exc.start} is not UTF-8 text (TOML is UTF-8)"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source.path}: not valid TOML: {exc}") from None
    config = parse_config(data, str(source.path), sms_tables=sms_tables)
    _anchor(config, source.path.parent.resolve())
    if "data_dir" in config.probe.model_fields_set:
        data_dir = Located(config.probe.data_dir, f"[probe] data_dir in {source.path}")
    else:
        data_dir = default_data_dir(source.path)
        config.probe.data_dir = data_dir.path
    return ConfigInUse(config, source, data_dir)


def load_config(path: Path | None = None, *, sms_tables: SMSTables = "all") -> Config:
    """Load ``path``, or the first config of ``probe.paths``' search order (at worst the packaged default).

    ``sms_tables="enabled"``: for a command that measures no SMS; the tables of back-ends not enabled are set
    aside unread (``SMSTables``)."""
    return config_in_use(path, sms_tables=sms_tables).config
