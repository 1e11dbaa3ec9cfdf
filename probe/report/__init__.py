"""Reports: one self-contained HTML page about a period, for readers who are not engineers.

    build   what a report shows, read from the database (windows, timeline, probes, verification)
    svg     the charts: each network's reachability, each target's status strip, windows with bounds
    words   kinds, methods and statuses in plain language; the method for a lay reader
    in_short  the summary on a collector with declared places: the regional windows first, then each window
              per network with how far it reached
    page    the page: inline CSS and SVG, no script, nothing loaded from anywhere
    regional           a collector's regional windows and its probes' declared places (``find_regional``)
    boundaries         the shipped maps of subdivisions (``maps/``, Natural Earth) and their projection
    regional_map       the map shaded by those windows, over the period and in small multiples over time
    regional_timeline  a row per area and district, the windows as bars by kind
    regional_page      the section: maps, timeline, table; no map for a country none ships for
    run_summary  the end of `probe run` in a volunteer's words: targets by verdict, what to fix

``page.build_report(conn, query, db_path)`` returns the page; ``probe report`` writes it to a file. The
package imports none of them: ``probe run`` takes ``run_summary`` alone, without the outage analysis.
"""
