"""One captured packet, as forensics record it and verdicts read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Packet:
    t: float
    proto: str
    """``tcp``, ``udp`` or ``icmp``."""
    src: str
    sport: int
    dst: str
    dport: int
    ttl: int
    ip_id: int
    flags: str = ""
    """TCP flags (``SA``, ``R``, ``PA`` ...), or ``type/code`` for ICMP."""
    length: int = 0
    quoted_sport: int | None = None
    """For an ICMP error: the source port of the packet it quotes."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
