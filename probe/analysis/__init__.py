"""Outage windows: from stored measurements to "when was what cut, for whom, and how sure are we".

    kinds        the kinds of window, and what an observation's basis is worth
    observe      one row (measurement, network context, round) as a good, bad or neutral point
    hysteresis   windows in one series: open after k bad rounds, close after k good ones; bounds
    scoring      kind and method of a window, its confidence and its severity
    aggregate    one probe's windows merged per network (ASN) or region (country)
    sources      the series read from SQLite, streaming, in index order
    outages      ``find_outages``: both passes (network, then targets) for a query
    extent       how far a whole-network window reached, on a collector whose probes declared places
    timeline     binned status counts for charts (``probe report``)
    regional/    district, area, mobile-only and national cuts told from dead devices, from many probes

The method, in the words of ``../shared/docs/outages.md``: a window has bounds, not points; one
failure on a flaky link opens nothing; each window is classified (targeted block with its method,
site down, shutdown, international cut, local fault, degraded) and scored (confidence from the
number of probes and measurements that agree; severity as IODA's relative drop × duration).
"""

from probe.analysis.hysteresis import Hysteresis
from probe.analysis.outages import OutageQuery, find_outages
from probe.analysis.windows import Window

__all__ = ["Hysteresis", "OutageQuery", "Window", "find_outages"]
