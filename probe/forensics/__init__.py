"""Packet forensics (needs root; degrades to ``unavailable (no root)``).

capture   a flow measured again while a packet socket records it (what its packets say: ``probe.verdict.forensics``)
headers   IPv4, TCP, UDP and ICMP headers read from a packet's bytes
hello     the test requests: an HTTP GET with a Host, a TLS ClientHello with an SNI
trace     ``probe trace``: TTL-limited test and control requests name the censoring hop (CenTrace)
"""
