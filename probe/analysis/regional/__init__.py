"""Regional detection: a district cut off, a mobile-only cut, a national shutdown, a dead laptop and a
laptop with its Wi-Fi off, told apart from many probes' rounds (issue 21; docs/method.md, "Regional
detection"). Pure: no socket, and no database but in ``sources``, which reads what a collector received
through a connection it is given.

    model         inputs: a probe's declaration (place, network type, schedule), rounds, batches
    rules         the thresholds, with why
    kinds         a probe's state in a time bin, and the kinds of window
    listening     when the collector was down, and from when a probe's silence counts after that
    timeline      one probe's state per bin, from the batches received by a moment
    availability  each probe's usual off / down / silent rates per hour of the day
    chance        how likely that many fail together by chance (Poisson-binomial tail)
    groups        country, area, district; each split by network type
    verdicts      one group's verdict in one bin (up, down, provisional, too few)
    labels        the kinds of window one bin holds, nested, from the country to a probe
    runs          hysteresis over bins: open after k labelled bins, close after k good ones; provisional
                  windows of narrower places folded into the wider shutdown they began
    bounds        start and end bounds from the witnesses' rounds
    words         confidence and its basis in words
    window        ``RegionalWindow``, the output
    detect        ``detect(batches, as_of)``: all of it
    sources       a collector's database (SQLite or PostgreSQL) as batches: arrivals, rounds, states, places;
                  and its sessions (when it was listening)
    query         ``find_regional``: ``probe outages --by district|area``
"""

from probe.analysis.regional.detect import detect
from probe.analysis.regional.model import Batch, Declaration, Listening, Round, Schedule
from probe.analysis.regional.rules import Rules
from probe.analysis.regional.window import RegionalWindow

__all__ = ["Batch", "Declaration", "Listening", "RegionalWindow", "Round", "Rules", "Schedule", "detect"]
