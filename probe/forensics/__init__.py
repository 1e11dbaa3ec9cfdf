"""Packet forensics (needs root; degrades to ``unavailable (no root)``).

capture   scapy capture of a flow measured again (what its packets say: ``probe.verdict.forensics``)
hello     the test requests: an HTTP GET with a Host, a TLS ClientHello with an SNI
trace     ``probe trace``: TTL-limited test and control requests name the censoring hop (CenTrace)
"""
