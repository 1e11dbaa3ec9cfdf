"""What the TTL and IP-ID of a suspicious packet say: injected by a box on the path, or sent by the server?

An injected RST or DNS answer is made by a middlebox, not by the server: it usually arrives with
another TTL (the box is fewer hops away, or starts from another initial TTL) and an IP-ID that
does not follow the server's sequence (ICLab, CenTrace; ``../shared/docs/methodology.md``, "Control: the view from
outside"). These functions read packets captured
by a forensic re-measurement (``probe.stage.forensics``); they never touch the network.

Known limits: a server that sends its RST from another machine (a load balancer) also looks
injected; Linux sends IP-ID 0 on its SYN-ACKs, so the IP-ID test needs the server's data packets.
"""

from __future__ import annotations

import statistics
from typing import Any

from probe.model.packet import Packet

TTL_TOLERANCE = 0
"""Hops a genuine packet's TTL may differ from the server's others. The packets of one flow, seconds
apart, come over one path: a middlebox one hop nearer than the server is one TTL off. (A route that
changes in the middle of a flow is a known false positive.)"""
IPID_WINDOW = 256
"""How far past the server's last IP-ID its next packet may be (other connections share the counter)."""


def judge_reset(packets: list[Packet], server: str, port: int) -> dict[str, Any]:
    """Put the server's RSTs next to its other packets; say whether they fit."""
    from_server = [p for p in packets if p.proto == "tcp" and p.src == server and p.sport == port]
    resets = [p for p in from_server if "R" in p.flags]
    genuine = [p for p in from_server if "R" not in p.flags]
    result: dict[str, Any] = {
        "suspicious": [p.to_dict() for p in resets[:8]],
        "genuine": [p.to_dict() for p in genuine[:8]],
        "injected": None,
    }
    if not resets:
        result["conclusion"] = "no reset came back this time"
        return result
    if not genuine:
        result["conclusion"] = (
            f"reset with TTL {resets[0].ttl}, IP-ID {resets[0].ip_id}; no genuine packet of the server to compare with"
        )
        return result
    reference_ttl = statistics.median_low(p.ttl for p in genuine)
    odd_ttl = [r for r in resets if abs(r.ttl - reference_ttl) > TTL_TOLERANCE]
    ids = [p.ip_id for p in genuine if p.ip_id]
    odd_id = [r for r in resets if ids and r.ip_id and not 0 <= (r.ip_id - max(ids)) % 65536 <= IPID_WINDOW]
    first = resets[0]
    if odd_ttl:
        result["injected"] = True
        result["conclusion"] = (
            f"the reset's TTL {odd_ttl[0].ttl} does not fit the server's {reference_ttl}: "
            "sent by a box on the path, not by the server"
        )
    elif odd_id and len(ids) >= 2:
        result["injected"] = True
        result["conclusion"] = (
            f"the reset's IP-ID {odd_id[0].ip_id} is off the server's sequence (last {max(ids)}): likely injected"
        )
    else:
        result["injected"] = False
        result["conclusion"] = (
            f"the reset (TTL {first.ttl}, IP-ID {first.ip_id}) fits the server's packets (TTL {reference_ttl}): "
            "no sign of injection"
        )
    return result


def judge_dns(packets: list[Packet], resolver: str, port: int) -> dict[str, Any]:
    """Answers from the resolver: with two or more, whether the first fits the later ones."""
    answers = [p for p in packets if p.proto == "udp" and p.src == resolver and p.sport == port]
    result: dict[str, Any] = {"answers": [p.to_dict() for p in answers[:8]], "injected": None}
    if len(answers) < 2:
        result["conclusion"] = f"{len(answers)} answer(s); nothing to compare"
        return result
    first, genuine = answers[0], answers[-1]
    if abs(first.ttl - genuine.ttl) > TTL_TOLERANCE:
        result["injected"] = True
        result["conclusion"] = (
            f"the first answer (TTL {first.ttl}, IP-ID {first.ip_id}) does not fit the later one "
            f"(TTL {genuine.ttl}, IP-ID {genuine.ip_id}): injected"
        )
    else:
        result["injected"] = False
        result["conclusion"] = "the answers' TTLs agree: both could come from the resolver"
    return result
