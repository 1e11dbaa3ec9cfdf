"""The groups a probe counts in: its country, its area (ISO 3166-2), its district; each split by network type.

A probe with no area counts only for its country; one with an area but no district for its country
and area. Fixed and mobile probes also count in their group's ``fixed`` or ``mobile`` part;
satellite and unknown ones only in the whole group (``""``), which is every network type.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.analysis.regional.kinds import Scope
from probe.analysis.regional.model import Declaration

ALL = ""
MOBILE = "mobile"
FIXED = "fixed"
INTERNATIONAL = "international"
"""Not a network type: the whole group tallied for its reach abroad (``kinds.INTERNATIONAL_FAILING`` failing)."""


@dataclass(frozen=True, order=True)
class Group:
    scope: Scope
    country: str
    area: str = ""
    district: str = ""

    @property
    def parent(self) -> Group | None:
        if self.scope == "district":
            return Group("area", self.country, self.area)
        if self.scope == "area":
            return Group("country", self.country)
        return None

    @property
    def name(self) -> str:
        return "/".join(part for part in (self.country, self.area, self.district) if part)


def groups_of(declaration: Declaration) -> tuple[Group, ...]:
    """From the widest to the narrowest."""
    country = Group("country", declaration.country)
    if not declaration.area:
        return (country,)
    area = Group("area", declaration.country, declaration.area)
    if not declaration.district:
        return (country, area)
    return (country, area, Group("district", declaration.country, declaration.area, declaration.district))


def parts_of(declaration: Declaration) -> tuple[str, ...]:
    """The parts of a group the probe counts in: the whole, and fixed or mobile."""
    if declaration.network_type in (MOBILE, FIXED):
        return (ALL, declaration.network_type)
    return (ALL,)
