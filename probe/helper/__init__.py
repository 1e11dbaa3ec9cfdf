"""The test helper: the control vantage point outside the censored network.

measure   what the helper measures for one request (DNS, TCP, TLS, HTTP from its side)
server    ``probe helper serve``: the HTTP JSON service, bounded against hostile clients
ipdb      the client's network (ASN, country) from MMDB files

The protocol is ``probe.model.control`` and the probe's side ``probe.net.control``.
"""
