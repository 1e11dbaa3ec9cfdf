"""Where a volunteer says the probe is: a subdivision of the country, a district, the kind of network.

Opt-in and coarse on purpose. The area is an ISO 3166-2 code (``KZ-47`` is Mangystau), the district an
admin-2 name (``Zhanaozen``), the network ``fixed``, ``mobile``, ``satellite`` or ``unknown``: enough for a
collector to tell a district cut off from a country blocked, or a mobile-only cut, from many probes; never
coordinates, a street or a cell. Area and network type together narrow down who a volunteer is, which the
consent notice says (``probe.consent``).

ISO 3166-2 codes are checked against pycountry's copy of the standard, loaded only when an area is given.
"""

from __future__ import annotations

import re
from typing import Literal

NetworkType = Literal["fixed", "mobile", "satellite", "unknown"]
NETWORK_TYPES: tuple[NetworkType, ...] = ("fixed", "mobile", "satellite", "unknown")
MAX_DISTRICT_CHARS = 64
_AREA = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_DISTRICT = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '’.-])*$")
"""Letters, with spaces, apostrophes, dots and hyphens between them: no digits, so no coordinates or numbers."""


def check_area(code: str) -> str:
    """``code`` as an ISO 3166-2 subdivision code (upper case), or ``ValueError`` naming why not."""
    code = code.strip().upper()
    if not _AREA.match(code):
        raise ValueError(f"{code!r} is not an ISO 3166-2 code such as KZ-47 (country, dash, subdivision)")
    if area_name(code) is None:
        raise ValueError(f"{code!r} is not a subdivision in ISO 3166-2 (e.g. KZ-47 is Mangystau)")
    return code


def area_name(code: str) -> str | None:
    """The subdivision's name in ISO 3166-2 (``Mangghystaū oblysy`` for KZ-47), None for an unknown code."""
    import pycountry  # the standard's data is loaded only by a probe that declares an area

    found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return None if found is None else str(found.name)


def country_name(code: str) -> str | None:
    """The country's short name in ISO 3166-1 (``Kazakhstan`` for KZ), None for an unknown code."""
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return None if found is None else str(found.name)


def area_country(code: str) -> str:
    return code.split("-", 1)[0]


def check_district(name: str) -> str:
    """An admin-2 name, trimmed; ``ValueError`` for digits (coordinates, house numbers) or anything long."""
    name = " ".join(name.split())
    if len(name) > MAX_DISTRICT_CHARS:
        raise ValueError(f"a district's name, at most {MAX_DISTRICT_CHARS} characters")
    if not _DISTRICT.match(name):
        raise ValueError(
            f"{name!r} is not a name: letters, spaces, hyphens and apostrophes only "
            "(no numbers, no coordinates: a district such as Zhanaozen, nothing finer)"
        )
    return name


def describe(area: str, district: str, network_type: str) -> str | None:
    """One line of what the probe declares, as the consent notice and the acceptance name it; None if nothing."""
    parts = []
    if area:
        name = area_name(area)
        parts.append(f"area {area}" + (f" ({name})" if name else ""))
    if district:
        parts.append(f"district {district}")
    if network_type != "unknown":
        parts.append(f"{network_type} network")
    return ", ".join(parts) or None
