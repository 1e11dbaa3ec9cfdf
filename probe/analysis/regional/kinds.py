"""The words of regional detection: a probe's state in a time bin, and the kinds of window.

A probe in one time bin (``timeline``):

    up            a round says the network works (controls fine)
    blocked       controls fine, named targets failing: the network works
    degraded      some controls failing with no pattern (a flaky link): the network works, if badly
    international_cut  international controls failing, a domestic one working: the network works inside the
                  country only; not down (a full network shutdown), not working (``INTERNATIONAL_FAILING``)
    network_down  controls failing beyond the probe's own link
    local_fault   its own link or Wi-Fi is down: evidence of nothing about the network
    device_off    a received span with no round in it, or a reboot / daemon-not-running marker
    silent        nothing received yet for that bin although the schedule says rounds exist
    absent        before the probe's first round: not a member yet

Kinds of window (``RegionalWindow.kind``):

    national_shutdown  most of a country's probes down, every network type
    regional_shutdown  every network type down in a district or an area, the rest of the country up
    mobile_shutdown    mobile probes down while fixed ones are up (at least 2 of each)
    too_few_probes     probes of one group down together, but fewer than 3 in it: no regional label
    probe_dark         one probe down while its group is up
    device_off         a probe's own machine was off: never a shutdown
    local_fault        a probe's own link was down: never a shutdown
    sms_affected       SMS fail in an area while its network is up
    targeted_block     one target blocked for most of a country's working probes
    international_cut  a group's probes reach domestic controls and no international one (national intranet
                       mode, or an area's international links cut): its own kind, never a full network shutdown,
                       at the widest scope where it holds, as shutdowns are
"""

from __future__ import annotations

from typing import Final, Literal

UP: Final = "up"
BLOCKED: Final = "blocked"
DEGRADED: Final = "degraded"
INTERNATIONAL_CUT: Final = "international_cut"
NETWORK_DOWN: Final = "network_down"
LOCAL_FAULT: Final = "local_fault"
DEVICE_OFF: Final = "device_off"
SILENT: Final = "silent"
ABSENT: Final = "absent"

BinState = Literal[
    "up", "blocked", "degraded", "international_cut", "network_down", "local_fault", "device_off", "silent", "absent"
]
WORKING = frozenset({UP, BLOCKED, DEGRADED})
"""States in which the network demonstrably works (a degraded one too: it is up, if badly)."""
INTERNATIONAL_FAILING = frozenset({INTERNATIONAL_CUT, NETWORK_DOWN})
"""States in which the world outside the country is out of reach. Only ``network_down`` is a full network
shutdown: for shutdowns, a probe whose international links alone are cut counts as working (its domestic
network works); for ``international_cut`` windows, as failing."""

NATIONAL_SHUTDOWN: Final = "national_shutdown"
REGIONAL_SHUTDOWN: Final = "regional_shutdown"
MOBILE_SHUTDOWN: Final = "mobile_shutdown"
TOO_FEW_PROBES: Final = "too_few_probes"
PROBE_DARK: Final = "probe_dark"
SMS_AFFECTED: Final = "sms_affected"
TARGETED_BLOCK: Final = "targeted_block"

SHUTDOWNS = frozenset({NATIONAL_SHUTDOWN, REGIONAL_SHUTDOWN, MOBILE_SHUTDOWN})
"""The full network shutdowns: device_off and local_fault never are, nor is an international cut."""
GROUP_EVENTS = SHUTDOWNS | {INTERNATIONAL_CUT}
"""The kinds judged as a group's failure, with a chance of it happening by chance: the shutdowns and the
international cuts."""

Scope = Literal["country", "area", "district", "probe"]
