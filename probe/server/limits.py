"""What a server holds to: workers, deadlines, a minimum rate, and caps on heads, bodies and connections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    workers: int = 16
    """Requests handled at once; a complete request finding none free gets 503."""
    request_timeout: float = 10.0
    """Seconds from accept to the last byte of the body (head and body together)."""
    max_head_bytes: int = 8 * 1024
    max_body_bytes: int = 16 * 1024
    max_buffered_bytes: int = 64 << 20
    """Request bodies held in memory at once, across all connections."""
    max_connections: int = 512
    """Connections being read at once; past it the oldest incomplete one is dropped."""
    write_timeout: float = 5.0
    linger: float = 1.0
    keep_alive: float = 5.0
    """Seconds an answered connection may wait, idle, for its next request (0: one request per connection)."""
    min_rate: float = 1024.0
    """Bytes a second a request must keep up with once ``rate_grace`` has passed (head and body
    together); a slower one is cut with 408 (0: no minimum, only ``request_timeout``)."""
    rate_grace: float = 10.0
    """Seconds from a request's start (accept, or its first byte on a kept-alive connection) before
    ``min_rate`` applies: at ``rate_grace + n`` seconds it must have sent ``n * min_rate`` bytes."""
