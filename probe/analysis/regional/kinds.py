"""The words of regional detection: a probe's state in a time bin, and the kinds of window.

A probe in one time bin (``timeline``):

    up            a round says the network works (controls fine)
    blocked       controls fine, named targets failing: the network works
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
"""

from __future__ import annotations

from typing import Final, Literal

UP: Final = "up"
BLOCKED: Final = "blocked"
NETWORK_DOWN: Final = "network_down"
LOCAL_FAULT: Final = "local_fault"
DEVICE_OFF: Final = "device_off"
SILENT: Final = "silent"
ABSENT: Final = "absent"

BinState = Literal["up", "blocked", "network_down", "local_fault", "device_off", "silent", "absent"]
WORKING = frozenset({UP, BLOCKED})
"""States in which the network demonstrably works."""

NATIONAL_SHUTDOWN: Final = "national_shutdown"
REGIONAL_SHUTDOWN: Final = "regional_shutdown"
MOBILE_SHUTDOWN: Final = "mobile_shutdown"
TOO_FEW_PROBES: Final = "too_few_probes"
PROBE_DARK: Final = "probe_dark"
SMS_AFFECTED: Final = "sms_affected"
TARGETED_BLOCK: Final = "targeted_block"

SHUTDOWNS = frozenset({NATIONAL_SHUTDOWN, REGIONAL_SHUTDOWN, MOBILE_SHUTDOWN})
"""The kinds that are alarms about a network: device_off and local_fault never are."""

Scope = Literal["country", "area", "district", "probe"]
