"""The helper's IP databases: an address's ASN, network name and country, from MMDB files.

The operator supplies the files (``probe helper serve --asn-db F --country-db F``); both layouts in use
are read:

- DB-IP lite and MaxMind GeoLite2 (``ip-to-asn``/``ASN`` and ``ip-to-country``/``Country`` files):
  ``autonomous_system_number``, ``autonomous_system_organization``; ``country.iso_code`` (or
  ``registered_country.iso_code``);
- IPinfo lite (one file for both): ``asn`` ("AS13335"), ``as_name``, ``country_code``.

An address the files do not know gives ASN 0, no name and country "ZZ". Lookups never raise: a record
of an unexpected shape counts as unknown.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import maxminddb

from probe.errors import ProbeError
from probe.model.control import ClientNetwork


class IPDatabaseError(ProbeError):
    """An IP database file cannot be opened."""


def _open(path: Path) -> Any:
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise IPDatabaseError(f"{path}: not a readable MMDB file: {exc}") from None


def _record(reader: Any, address: str) -> dict[str, Any]:
    try:
        ipaddress.ip_address(address)
        found = reader.get(address)
    except (ValueError, maxminddb.InvalidDatabaseError):
        return {}
    return found if isinstance(found, dict) else {}


def _asn(record: dict[str, Any]) -> int:
    value = record.get("autonomous_system_number", record.get("asn"))
    if isinstance(value, str) and value.upper().startswith("AS"):
        value = value[2:]
    try:
        number = int(value) if isinstance(value, (int, str)) else 0
    except ValueError:
        return 0
    return number if 0 < number < 1 << 32 else 0


def _name(record: dict[str, Any]) -> str:
    value = record.get("autonomous_system_organization", record.get("as_name"))
    return value[:256] if isinstance(value, str) else ""


def _country(record: dict[str, Any]) -> str:
    candidates = [record.get("country_code")]
    for key in ("country", "registered_country"):
        part = record.get(key)
        if isinstance(part, dict):
            candidates.append(part.get("iso_code"))
    for value in candidates:
        if isinstance(value, str) and len(value) == 2 and value.isalpha() and value.isascii():
            return value.upper()
    return "ZZ"


class IPDatabases:
    """The ASN and country databases (either may be absent; one file may serve both)."""

    def __init__(self, asn_db: Path | None = None, country_db: Path | None = None) -> None:
        self._asn = _open(asn_db) if asn_db is not None else None
        self._country = _open(country_db) if country_db is not None else None

    def asn(self, address: str) -> int:
        return _asn(_record(self._asn, address)) if self._asn is not None else 0

    def network(self, address: str) -> ClientNetwork:
        asn_record = _record(self._asn, address) if self._asn is not None else {}
        country_record = _record(self._country, address) if self._country is not None else {}
        return ClientNetwork(asn=_asn(asn_record), as_name=_name(asn_record), cc=_country(country_record or asn_record))

    def close(self) -> None:
        for reader in (self._asn, self._country):
            if reader is not None:
                reader.close()
