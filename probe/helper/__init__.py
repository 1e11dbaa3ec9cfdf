"""The test helper: the control vantage point outside the censored network.

measure   what the helper measures for one request (DNS, TCP, TLS, HTTP from its side)
server    ``probe helper serve``: the HTTP JSON service, bounded against hostile clients
client    the probe's side: ask the helper, never raise
"""
