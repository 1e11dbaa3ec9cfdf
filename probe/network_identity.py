"""The network a run measured from: ASN, network name and country, never the address.

``[probe] probe_asn`` / ``probe_cc`` are either the volunteer's (``AS9198``, ``KZ``) or ``"auto"``: then the
test helper tells them, looking up the address it sees in its IP databases (``x_client_network`` in its
answer). What no helper could tell stays OONI's "unknown": ``AS0`` and ``ZZ``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from probe.config import Config
from probe.model.control import ClientNetwork

AUTO = "auto"
UNKNOWN_ASN = "AS0"
UNKNOWN_CC = "ZZ"
Source = Literal["config", "helper", "unknown"]


@dataclass(frozen=True)
class NetworkIdentity:
    asn: str
    cc: str
    name: str
    source: Source
    """config: both from the config; helper: what was "auto" a helper told; unknown: some "auto" nobody told."""

    def line(self) -> str:
        """One line for the end of a run."""
        name = f" {self.name}," if self.name else ""
        if self.source == "unknown":
            return (
                f"network: {self.asn},{name} {self.cc}: not known (no test helper told it); it is recorded as "
                'unknown: set [probe] probe_asn and probe_cc, or use a helper that answers "x_client_network"'
            )
        told = "told by the test helper" if self.source == "helper" else "from the config"
        return f"network: {self.asn},{name} {self.cc} ({told})"


def resolve(config: Config, learned: ClientNetwork | None) -> NetworkIdentity:
    """The configured values where set, else what a helper told, else unknown."""
    probe = config.probe
    asn, cc, name = probe.probe_asn, probe.probe_cc, ""
    auto = AUTO in (asn, cc)
    if asn == AUTO:
        asn = f"AS{learned.asn}" if learned is not None and learned.asn > 0 else UNKNOWN_ASN
        name = learned.as_name if learned is not None and learned.asn > 0 else ""
    if cc == AUTO:
        cc = learned.cc if learned is not None else UNKNOWN_CC
    if not auto:
        return NetworkIdentity(asn, cc, name, "config")
    unknown = (probe.probe_asn == AUTO and asn == UNKNOWN_ASN) or (probe.probe_cc == AUTO and cc == UNKNOWN_CC)
    return NetworkIdentity(asn, cc, name, "unknown" if unknown else "helper")
