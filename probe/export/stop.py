"""``stop`` and ``stop-json``: a collector's shutdown windows as rows in the shape of Access Now's STOP dataset.

STOP (the #KeepItOn Shutdown Tracker Optimization Project) records one row per shutdown event: country, start
and end dates, geographic scope, area name, shutdown type, affected network, whether SMS was affected, and
context that no probe can measure (who ordered it, the official justification, news sources). These rows carry
the columns a collector can fill, named as STOP names them where it has them, followed by the evidence behind
each row (the bounds, the probes, the confidence and its basis, provisional or confirmed) and its source: ready
to submit, and to be completed by a person. It is the shape of STOP's rows, not Access Now's own file format.

The events (``probe.analysis.regional``, read as ``probe outages --by district`` reads them): each
``national_shutdown``, ``regional_shutdown`` and ``mobile_shutdown`` window (a full network shutdown, of every
network or of the mobile one), each ``targeted_block`` (service-based: the named target) and each
``sms_affected`` (service-based: SMS). A probe's own windows (``device_off``, ``local_fault``, ``probe_dark``) and
groups with too few probes are never events. Every column is documented in docs/method.md ("Regional detection",
STOP rows).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from probe import SOFTWARE_NAME, __version__
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as regional_kinds
from probe.analysis.regional.query import RegionalQuery, find_regional
from probe.export.format import ExportFormat, Rows, Selection
from probe.place import area_name, country_name

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

COLUMNS = (
    "country",
    "country_code",
    "geo_scope",
    "area_name",
    "area_code",
    "district",
    "affected_network",
    "shutdown_type",
    "services_affected",
    "sms_affected",
    "start_date",
    "end_date",
    "ongoing",
    "start",
    "end",
    "start_earliest",
    "start_latest",
    "end_earliest",
    "end_latest",
    "duration_hours",
    "probes_affected",
    "probes_in_group",
    "confidence",
    "confidence_basis",
    "status",
    "event",
    "source",
    "software_version",
)
"""The columns, in order: STOP's own fields first, then the evidence and the source."""

FULL_NETWORK = "full network"
SERVICE_BASED = "service-based"
_GEO_SCOPE = {"country": "national", "area": "regional", "district": "regional"}
"""STOP's regional is any part of a country below the national level; its local (a city, a neighbourhood) is finer
than the probes declare, so no row is local."""
_SHUTDOWN_TYPE = {
    regional_kinds.NATIONAL_SHUTDOWN: FULL_NETWORK,
    regional_kinds.REGIONAL_SHUTDOWN: FULL_NETWORK,
    regional_kinds.MOBILE_SHUTDOWN: FULL_NETWORK,
    regional_kinds.TARGETED_BLOCK: SERVICE_BASED,
    regional_kinds.SMS_AFFECTED: SERVICE_BASED,
}
"""The kinds of window that are events, and their shutdown type."""
SOURCE = f"{SOFTWARE_NAME} collector"


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _overlaps(one: RegionalWindow, other: RegionalWindow) -> bool:
    one_end = float("inf") if one.end is None else one.end
    other_end = float("inf") if other.end is None else other.end
    return one.start < other_end and other.start < one_end


def _covers(sms: RegionalWindow, window: RegionalWindow) -> bool:
    """Whether an ``sms_affected`` window is of the event's place: its country, or an area they share."""
    if sms.country != window.country:
        return False
    return sms.scope == "country" or window.scope == "country" or sms.area == window.area


def _sms_affected(window: RegionalWindow, sms: Sequence[RegionalWindow]) -> str:
    if window.kind == regional_kinds.SMS_AFFECTED:
        return "yes"
    return "yes" if any(_covers(one, window) and _overlaps(one, window) for one in sms) else "unknown"


def _services(window: RegionalWindow) -> str:
    if window.kind == regional_kinds.SMS_AFFECTED:
        return "SMS"
    return window.target


def _network(window: RegionalWindow) -> str:
    if window.kind == regional_kinds.SMS_AFFECTED:
        return "mobile"
    return window.network_type or "all"


def stop_row(window: RegionalWindow, sms: Sequence[RegionalWindow] = ()) -> dict[str, Any]:
    """One event as a STOP-shaped row; ``sms``: the ``sms_affected`` windows, for its ``sms_affected`` column."""
    end = window.end
    return {
        "country": country_name(window.country) or window.country,
        "country_code": window.country,
        "geo_scope": _GEO_SCOPE[window.scope],
        "area_name": (area_name(window.area) or window.area) if window.area else "",
        "area_code": window.area,
        "district": window.district,
        "affected_network": _network(window),
        "shutdown_type": _SHUTDOWN_TYPE[window.kind],
        "services_affected": _services(window),
        "sms_affected": _sms_affected(window, sms),
        "start_date": _date(window.start),
        "end_date": _date(end),
        "ongoing": window.ongoing,
        "start": _time(window.start),
        "end": _time(end),
        "start_earliest": _time(window.start_min),
        "start_latest": _time(window.start_max),
        "end_earliest": _time(window.end_min),
        "end_latest": _time(window.end_max),
        "duration_hours": None if end is None else round((end - window.start) / 3600.0, 2),
        "probes_affected": len(window.probes),
        "probes_in_group": window.probes_total,
        "confidence": round(window.confidence, 4),
        "confidence_basis": window.basis,
        "status": "provisional" if window.provisional else "confirmed",
        "event": window.kind,
        "source": SOURCE,
        "software_version": __version__,
    }


def stop_rows(windows: Iterable[RegionalWindow]) -> list[dict[str, Any]]:
    """The events among ``windows`` (in their order), one row each."""
    found = list(windows)
    sms = [window for window in found if window.kind == regional_kinds.SMS_AFFECTED]
    return [stop_row(window, sms) for window in found if window.kind in _SHUTDOWN_TYPE]


def read_events(db: AnyDatabase, selection: Selection) -> Rows:
    """A collector's events, as ``probe outages --by district`` finds them (``--since``, ``--until``, ``--area``)."""
    query = RegionalQuery("district", selection.area, selection.since, selection.until)
    return stop_rows(find_regional(db.conn, query))


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: _cell(row[name]) for name in COLUMNS})
        count += 1
    return count


def write_json(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    items = [{name: row[name] for name in COLUMNS} for row in rows]
    out.write(json.dumps(items, indent=2, ensure_ascii=False))
    out.write("\n")
    return len(items)


_FILTERS = ("since", "until", "area")
CSV = ExportFormat(
    "stop",
    "a collector's shutdown events, one CSV row each, in the shape of Access Now's STOP dataset",
    to_stream=write_csv,
    reads=read_events,
    filters=_FILTERS,
    unit="shutdown events",
)
JSON = ExportFormat(
    "stop-json",
    "the stop rows as one JSON array (true/false, null while ongoing)",
    to_stream=write_json,
    reads=read_events,
    filters=_FILTERS,
    unit="shutdown events",
)
