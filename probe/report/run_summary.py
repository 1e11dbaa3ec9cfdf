"""The end of a run in a volunteer's words: targets grouped by verdict, and what to fix when nothing was concluded.

Groups: accessible; blocked (and how: ``blocking_detail``); down everywhere (``site_down``); network down;
inconclusive (and why: the verdict's reason); measurements without a verdict (experiments other than web)
are listed by outcome. When no target has a conclusive verdict, one line says what to fix, from the evidence in the
stored rows: no network at all (nothing reached: no target, control site or helper), no helper configured,
no helper reachable (every control ask failed), or else where to look. When every target is ``network_down``
with a ``local_fault`` (this machine not connected, or its gateway silent), that one line is all: the
targets' failures say nothing about them or the network, so they are not listed one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GROUPS = (
    ("accessible", "accessible"),
    ("blocked", "blocked"),
    ("site_down", "down everywhere (the helper cannot reach it either)"),
    ("network_down", "network down (the controls failed too)"),
    ("inconclusive", "inconclusive"),
    ("", "no verdict (this experiment is not judged)"),
)
CONCLUSIVE = frozenset({"accessible", "blocked", "site_down", "network_down"})


@dataclass
class VerdictGroups:
    """Targets by verdict: ``{verdict: [(input, how or why)]}``, and the advice line (or None)."""

    groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    advice: str | None = None
    local_fault: bool = False
    """Every target failed on this machine's own fault: the advice is the one line to show."""


def _control_failure(row: Mapping[str, Any]) -> str | None:
    try:
        keys = json.loads(row.get("test_keys") or "{}")
    except json.JSONDecodeError:
        return None
    failure = keys.get("control_failure") if isinstance(keys, dict) else None
    return failure if isinstance(failure, str) else None


def _detail(row: Mapping[str, Any]) -> str:
    verdict = row.get("verdict") or ""
    if verdict == "blocked":
        confirmed = " (confirmed by a blockpage fingerprint)" if row.get("confirmed") else ""
        return f"{row.get('blocking_detail') or row.get('blocking') or 'how: unknown'}{confirmed}"
    if verdict in ("inconclusive", "network_down", "site_down"):
        return str(row.get("reason") or row.get("failure") or "")
    if not verdict:
        step = row.get("failed_step")
        failure = row.get("failure")
        return f"{step}: {failure}" if step and failure else str(failure or "ok")
    return ""


@dataclass(frozen=True)
class _Judged:
    """What the advice needs of a judged row, without the row: its test keys may hold a 1 MB body."""

    verdict: str
    control_failure: str | None


def group_verdicts(
    rows: Iterable[Mapping[str, Any]], *, helpers: Sequence[str], network_states: Sequence[str | None] = ()
) -> VerdictGroups:
    """Group a run's stored rows; ``helpers`` the configured ``[control] url``, ``network_states`` the round's.

    ``rows`` is read once, one row at a time (a run's rows, bodies and all, can be hundreds of MB)."""
    result = VerdictGroups()
    judged: list[_Judged] = []
    reached = False
    for row in rows:
        verdict = row.get("verdict") or ""
        result.groups.setdefault(verdict, []).append((str(row["input"]), _detail(row)))
        reached = reached or not row.get("failure")
        if verdict:
            # A conclusive verdict ends the advice before control failures count: no need to parse its keys.
            judged.append(_Judged(verdict, None if verdict in CONCLUSIVE else _control_failure(row)))
    if judged and "local_fault" in network_states and all(j.verdict == "network_down" for j in judged):
        result.local_fault = True
        result.advice = (
            f"this machine is not connected (no route out, or its gateway is silent): the {len(judged)} targets, "
            "the control sites and the test helper all failed here, which says nothing about them or the network; "
            "connect it (Wi-Fi, mobile data, cable), then run again"
        )
        return result
    if not judged or any(j.verdict in CONCLUSIVE for j in judged):
        return result
    helper_answered = any(not j.control_failure for j in judged) and bool(helpers)
    online = helper_answered or reached
    online = online or any(state in ("ok", "degraded") for state in network_states)
    if not online:
        result.advice = (
            "nothing could be concluded: nothing was reached, not the targets, the network controls or a test "
            "helper; check that this computer is online (Wi-Fi, mobile data, cable), then run again"
        )
    elif not helpers:
        result.advice = (
            "nothing could be concluded: no test helper is configured; set [control] url (OONI's public helpers "
            "or your own `probe helper serve`)"
        )
    elif all(j.control_failure for j in judged):
        failures = sorted({j.control_failure or "" for j in judged})
        result.advice = (
            f"nothing could be concluded: no test helper answered ({', '.join(failures)}); check [control] url "
            "and its CA, or list another helper (the helpers themselves may be blocked here)"
        )
    else:
        result.advice = "nothing could be concluded: see the reasons above and `probe results` for each step"
    return result


def render(groups: VerdictGroups) -> str:
    """The groups as text: a heading per verdict with its count, one indented line per target; a local fault
    as its one line."""
    if groups.local_fault and groups.advice:
        return groups.advice
    lines: list[str] = []
    for verdict, title in GROUPS:
        members = groups.groups.get(verdict, [])
        if not members:
            continue
        lines.append(f"{title}: {len(members)}")
        lines += [f"  {target}" + (f"  ({detail})" if detail else "") for target, detail in members]
    if groups.advice:
        lines.append(groups.advice)
    return "\n".join(lines)
