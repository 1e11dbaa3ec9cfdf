"""Packet forensics (needs root; degrades to ``unavailable (no root)``).

capture   scapy capture; the TTL and IP-ID of a suspicious reset or DNS answer next to genuine ones
hello     the test requests: an HTTP GET with a Host, a TLS ClientHello with an SNI
trace     ``probe trace``: TTL-limited test and control requests name the censoring hop (CenTrace)
"""
