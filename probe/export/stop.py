"""``stop`` and ``stop-json``: a collector's shutdown windows as rows of Access Now's STOP dataset.

STOP (the #KeepItOn Shutdown Tracker Optimization Project) records one row per shutdown event. These rows carry
STOP's columns first, named, ordered and valued as the public STOP sheet's CSV export has them (``STOP_COLUMNS``;
which columns and values were checked against which public source, and which were not, is in docs/method.md,
"STOP rows"): the ones a collector measures filled (dates, country, geographic scope, area, type, affected network,
extent, status, the platforms and SMS affected, a sentence for ``event``), the context no probe can measure (who
ordered it, the cause, the justification, the sources) left empty for a person to complete before submitting.
Then the evidence behind each row (``EVIDENCE_COLUMNS``: the bounds, the probes, the confidence and its basis,
provisional or confirmed) and its source.

The events (``probe.analysis.regional``, read as ``probe outages --by district`` reads them): each
``national_shutdown``, ``regional_shutdown`` and ``mobile_shutdown`` window (full network: of every network, or
of the mobile one), and, service-based, each ``targeted_block`` (the named target), ``sms_affected`` (SMS) and
``international_cut`` (every site abroad, domestic ones reachable: no full network shutdown). A probe's own
windows (``device_off``, ``local_fault``, ``probe_dark``) and groups with too few probes are never events.
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
from probe.analysis.regional.query import RegionalQuery, configured, find_regional
from probe.export.format import ExportFormat, Rows, Selection
from probe.place import area_name, country_name

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

STOP_COLUMNS = (
    "start_date_type",
    "start_date",
    "country",
    "geo_scope",
    "area_name",
    "shutdown_type",
    "affected_network",
    "shutdown_extent",
    "ordered_by",
    "decision_maker",
    "actual_cause",
    "actual_cause_details",
    "info_source",
    "info_source_link",
    "shutdown_status",
    "end_date",
    "duration",
    "gov_justification",
    "gov_ack",
    "facebook_affected",
    "twitter_affected",
    "whatsapp_affected",
    "instagram_affected",
    "telegram_affected",
    "other_affected",
    "sms_affected",
    "phonecall_affected",
    "telcos_involved",
    "election",
    "violence",
    "hr_abuse_reported",
    "users_targeted",
    "users_target_detail",
    "event",
    "an_link",
    "region",
)
"""STOP's columns, named and ordered as the public STOP sheet's CSV export has them (docs/method.md, "STOP rows",
says from which public sources); those no probe measures (who ordered it, the cause, the sources) are left empty
for a person to fill."""
EVIDENCE_COLUMNS = (
    "country_code",
    "area_code",
    "district",
    "window_kind",
    "target",
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
    "evidence_status",
    "source",
    "software_version",
)
"""The collector's evidence behind each row, after STOP's columns: codes, the window, its bounds, its probes."""
COLUMNS = (*STOP_COLUMNS, *EVIDENCE_COLUMNS)
"""The columns, in order: STOP's own, then the evidence and the source."""

FULL_NETWORK = "Full network"
SERVICE_BASED = "Service-based"
SHUTDOWN = "Shutdown"
"""STOP's ``shutdown_type`` of every row here (its others are throttling, which no window measures)."""
YES = "Yes"
_GEO_SCOPE = {
    "country": "It affected locations in more than one state, province, or region",
    "area": "It affected more than one city in the same state, province, or region",
    "district": "It only affected one city, county, or village",
}
"""STOP's ``geo_scope`` sentences: a country's event (its ``area_name`` ``Nationwide``) spans its regions, an area's
its cities, a district is one county."""
NATIONWIDE = "Nationwide"
_NETWORKS = {"": "Broadband, Mobile", "fixed": "Broadband", "mobile": "Mobile"}
_EXTENT = {
    regional_kinds.NATIONAL_SHUTDOWN: FULL_NETWORK,
    regional_kinds.REGIONAL_SHUTDOWN: FULL_NETWORK,
    regional_kinds.MOBILE_SHUTDOWN: FULL_NETWORK,
    regional_kinds.TARGETED_BLOCK: SERVICE_BASED,
    regional_kinds.SMS_AFFECTED: SERVICE_BASED,
    regional_kinds.INTERNATIONAL_CUT: SERVICE_BASED,
}
"""The kinds of window that are events, and their ``shutdown_extent``: an international cut leaves the network
working inside the country, so it is no full network shutdown (docs/method.md, the decision)."""
_WHAT = {
    regional_kinds.NATIONAL_SHUTDOWN: "Every network down across the country",
    regional_kinds.REGIONAL_SHUTDOWN: "Every network down",
    regional_kinds.MOBILE_SHUTDOWN: "Mobile network down while fixed networks worked",
    regional_kinds.SMS_AFFECTED: "SMS failing while the network worked",
    regional_kinds.INTERNATIONAL_CUT: "International connectivity cut, domestic sites reachable",
}
ABROAD = "every site abroad (domestic sites reachable)"
"""``other_affected`` of an international cut."""
_PLATFORMS = {
    "facebook_affected": ("facebook.com", "fb.com", "messenger.com", "fbcdn.net"),
    "twitter_affected": ("twitter.com", "x.com", "t.co", "twimg.com"),
    "whatsapp_affected": ("whatsapp.com", "whatsapp.net"),
    "instagram_affected": ("instagram.com", "cdninstagram.com"),
    "telegram_affected": ("telegram.org", "t.me", "telegram.me"),
}
"""STOP's platform columns, and the hosts (and their subdomains) a blocked target counts as."""
SOURCE = f"{SOFTWARE_NAME} collector"


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(epoch: float | None) -> str | None:
    """STOP's dates: month/day/year, as its sheet writes them (UTC)."""
    if epoch is None:
        return None
    day = datetime.fromtimestamp(epoch, UTC)
    return f"{day.month}/{day.day}/{day.year}"


def _overlaps(one: RegionalWindow, other: RegionalWindow) -> bool:
    one_end = float("inf") if one.end is None else one.end
    other_end = float("inf") if other.end is None else other.end
    return one.start < other_end and other.start < one_end


def _covers(sms: RegionalWindow, window: RegionalWindow) -> bool:
    """Whether an ``sms_affected`` window is of the event's place: its country, or an area they share."""
    if sms.country != window.country:
        return False
    return sms.scope == "country" or window.scope == "country" or sms.area == window.area


def _sms_affected(window: RegionalWindow, sms: Sequence[RegionalWindow]) -> str | None:
    """``Yes`` for SMS failing then and there; else unknown (empty): a working SMS beside a working network says
    nothing about SMS during a cut."""
    if window.kind == regional_kinds.SMS_AFFECTED:
        return YES
    return YES if any(_covers(one, window) and _overlaps(one, window) for one in sms) else None


def platform(target: str) -> str | None:
    """The STOP platform column a blocked target falls in (``twitter.com``, ``mobile.twitter.com``: twitter), if any."""
    host = target.lower()
    for column, domains in _PLATFORMS.items():
        if any(host == domain or host.endswith(f".{domain}") for domain in domains):
            return column
    return None


def _services(window: RegionalWindow) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys((*_PLATFORMS, "other_affected"))
    if window.kind == regional_kinds.TARGETED_BLOCK:
        found[platform(window.target) or "other_affected"] = YES if platform(window.target) else window.target
    elif window.kind == regional_kinds.INTERNATIONAL_CUT:
        found["other_affected"] = ABROAD
    return found


def _area_name(window: RegionalWindow) -> str:
    if window.scope == "country":
        return NATIONWIDE
    area = (area_name(window.area) or window.area) if window.area else ""
    return ", ".join(part for part in (window.district, area) if part)


def _event(window: RegionalWindow) -> str:
    """The event in one sentence: what, where, when (UTC), and the evidence."""
    what = _WHAT.get(window.kind) or f"{window.target} blocked"
    where = window.country if window.scope == "country" else f"{_area_name(window)} ({window.country})"
    until = _time(window.end) or "ongoing"
    return f"{what} in {where}, {_time(window.start)} to {until} (measured by probes): {window.basis}."


def stop_row(window: RegionalWindow, sms: Sequence[RegionalWindow] = ()) -> dict[str, Any]:
    """One event as a STOP row; ``sms``: the ``sms_affected`` windows, for its ``sms_affected`` column."""
    end = window.end
    network = "mobile" if window.kind == regional_kinds.SMS_AFFECTED else window.network_type
    row: dict[str, Any] = dict.fromkeys(STOP_COLUMNS)
    row |= {
        "start_date": _date(window.start),
        "country": country_name(window.country) or window.country,
        "geo_scope": _GEO_SCOPE[window.scope],
        "area_name": _area_name(window),
        "shutdown_type": SHUTDOWN,
        "affected_network": _NETWORKS.get(network, _NETWORKS[""]),
        "shutdown_extent": _EXTENT[window.kind],
        "shutdown_status": "Ongoing" if window.ongoing else "Ended",
        "end_date": _date(end),
        **_services(window),
        "sms_affected": _sms_affected(window, sms),
        "event": _event(window),
    }
    return row | {
        "country_code": window.country,
        "area_code": window.area,
        "district": window.district,
        "window_kind": window.kind,
        "target": window.target,
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
        "evidence_status": "provisional" if window.provisional else "confirmed",
        "source": SOURCE,
        "software_version": __version__,
    }


def stop_rows(windows: Iterable[RegionalWindow]) -> list[dict[str, Any]]:
    """The events among ``windows`` (in their order), one row each."""
    found = list(windows)
    sms = [window for window in found if window.kind == regional_kinds.SMS_AFFECTED]
    return [stop_row(window, sms) for window in found if window.kind in _EXTENT]


def read_events(db: AnyDatabase, selection: Selection) -> Rows:
    """A collector's events, as ``probe outages --by district`` finds them (``--since``, ``--until``, ``--area``)."""
    rules = configured(selection.regional) if selection.regional is not None else None
    query = RegionalQuery("district", selection.area, selection.since, selection.until, rules)
    return stop_rows(find_regional(db.conn, query))


def _cell(value: Any) -> Any:
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
    "a collector's shutdown events, one CSV row each, in Access Now's STOP columns, then the evidence",
    to_stream=write_csv,
    reads=read_events,
    filters=_FILTERS,
    unit="shutdown events",
)
JSON = ExportFormat(
    "stop-json",
    "the stop rows as one JSON array (null where a cell is empty)",
    to_stream=write_json,
    reads=read_events,
    filters=_FILTERS,
    unit="shutdown events",
)
