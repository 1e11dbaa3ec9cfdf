"""Small worlds of probes for the regional detection tests; not a test module.

A ``Fleet`` is declarations and a timeline of what happens to whom (``Happening``): cut, off, local fault,
blocked, SMS failing; ``batches()`` plays it through ``benchmarks/regional_simulation.py``'s ``play``
(rounds every 10 minutes, uploads every hour, a cut probe uploading when its network returns).
Times are hours after ``BASE``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from probe.analysis.regional import Batch, Declaration, Schedule

BASE = 1_795_219_200.0  # 2026-11-21T00:00:00Z
HOUR = 3600.0
BENCHMARK = Path(__file__).resolve().parent.parent.parent / "benchmarks" / "regional_simulation.py"


def simulation() -> ModuleType:
    name = "regional_simulation_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def at(hours: float) -> float:
    return BASE + hours * HOUR


@dataclass(frozen=True)
class Happening:
    probes: frozenset[str]
    state: str | None
    """A round state, or None: the machine is off."""
    start: float
    end: float
    sms_ok: bool | None = None
    blocked: tuple[str, ...] = ()


@dataclass
class Fleet:
    declarations: list[Declaration] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)

    def add(
        self, probe: str, area: str = "", district: str = "", network_type: str = "fixed", upload: float = 3600.0
    ) -> str:
        self.declarations.append(
            Declaration(probe, "KZ", area, district, network_type, Schedule(600.0, upload))  # type: ignore[arg-type]
        )
        return probe

    def district(self, area: str, district: str, fixed: int, mobile: int, upload: float = 3600.0) -> list[str]:
        """Its probes, uploading every ``upload`` seconds."""
        names = [self.add(f"{district}-f{i}", area, district, "fixed", upload) for i in range(fixed)]
        return names + [self.add(f"{district}-m{i}", area, district, "mobile", upload) for i in range(mobile)]

    def happen(self, probes: list[str], state: str | None, start: float, end: float, **details: object) -> None:
        self.happenings.append(Happening(frozenset(probes), state, at(start), at(end), **details))  # type: ignore[arg-type]

    def state_of(self, probe: str, moment: float) -> tuple[str, bool | None, tuple[str, ...]] | None:
        found: tuple[str, bool | None, tuple[str, ...]] | None = ("up", None, ())
        for happening in self.happenings:
            if probe in happening.probes and happening.start <= moment < happening.end:
                if happening.state is None:
                    return None
                found = (happening.state, happening.sms_ok, happening.blocked)
        return found

    def batches(self, hours: float, flush: bool = True) -> list[Batch]:
        batches: list[Batch] = simulation().play(self.declarations, self.state_of, BASE, at(hours), flush=flush)
        return batches


def kz() -> tuple[Fleet, list[str], list[str], list[str]]:
    """Mangystau (KZ-47) with Zhanaozen and Aktau, and Almaty city (KZ-75): three probes of each type in each."""
    fleet = Fleet()
    zhanaozen = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=3)
    aktau = fleet.district("KZ-47", "Aktau", fixed=3, mobile=3)
    almaty = fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    return fleet, zhanaozen, aktau, almaty
