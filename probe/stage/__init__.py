"""What a round does around its experiment: measure the network, judge each measurement, measure again.

    network    this round's network controls and gateway, measured (``probe.verdict.network`` classifies)
    forensics  a flow whose verdict rests on a packet, measured again under capture
    verdicts   the verdict stage the runner calls: fingerprints, network context, a verdict per
               measurement, forensics, re-judging when the network went dark

The verdict package below only reads what was measured; everything that opens a socket for a
verdict is here.
"""
