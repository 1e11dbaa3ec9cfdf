"""The words of outage windows: what kind of event, and what an observation says about it.

Kinds of window (``Window.kind``):

    targeted_block     one target fails (or shows a blockpage) while the network works
    site_down          the target fails here and at the test helper outside: not censorship
    network_shutdown   every control fails (or, without controls, every target of a round)
    international_cut  international controls fail while domestic ones work
    local_fault        every control fails and the gateway is silent: the link itself is down
    degraded           controls fail here and there, with no pattern: a flaky network

Each observation is good, bad or neutral for the series it belongs to; a bad one carries the
kind it points to and how sure its basis is (``BASES``).
"""

from __future__ import annotations

from typing import Final

TARGETED_BLOCK: Final = "targeted_block"
SITE_DOWN: Final = "site_down"
NETWORK_SHUTDOWN: Final = "network_shutdown"
INTERNATIONAL_CUT: Final = "international_cut"
LOCAL_FAULT: Final = "local_fault"
DEGRADED: Final = "degraded"

KINDS = (TARGETED_BLOCK, SITE_DOWN, NETWORK_SHUTDOWN, INTERNATIONAL_CUT, LOCAL_FAULT, DEGRADED)
NETWORK_KINDS = frozenset({NETWORK_SHUTDOWN, INTERNATIONAL_CUT, LOCAL_FAULT, DEGRADED})
RANK = {kind: rank for rank, kind in enumerate(KINDS)}
"""Ties between kinds in one window go to the earlier (more specific, more severe) kind."""

NETWORK_TARGET: Final = "network"
"""The ``target`` of a whole-network window."""

STATE_KINDS = {
    "shutdown": NETWORK_SHUTDOWN,
    "international_cut": INTERNATIONAL_CUT,
    "local_fault": LOCAL_FAULT,
    "degraded": DEGRADED,
}
"""A round's network state (``probe.verdict.network``) as the kind of window it opens."""
DOWN_STATES = frozenset({"shutdown", "international_cut", "local_fault"})
"""Network states in which a failing target tells nothing about the target."""

# How an observation knows what it says (its "basis"), and how far that can be trusted.
CONFIRMED: Final = "blockpage"
"""A blockpage fingerprint matched: the censor signed its work."""
VERDICT: Final = "verdict"
"""A verdict drawn with the test helper's view from outside (``probe.verdict``)."""
CONTROLS: Final = "controls"
"""The round's network controls (domestic and international sites)."""
FAILURE: Final = "failure"
"""A failure without a verdict that explains it (no test helper, or not judged yet)."""
HEARTBEAT: Final = "round"
"""Every target of a round failed (heartbeat counts), with no network controls to say more."""
BASES = {CONFIRMED: 0.95, VERDICT: 0.85, CONTROLS: 0.85, FAILURE: 0.5, HEARTBEAT: 0.5}
"""How much one bad observation of each basis is worth (see ``probe.analysis.scoring``)."""

STEP_BLOCKING = {"dns": "dns", "tcp": "tcp_ip", "tls": "tls", "http": "http-failure"}
"""The blocking method a failed step suggests, when no verdict names one."""
