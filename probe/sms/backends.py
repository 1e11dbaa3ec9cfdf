"""The registry of SMS back-ends: adding one is its module (with its ``BACKEND``) and one line here."""

from __future__ import annotations

from probe.sms import at_modem, http_gateway, smpp
from probe.sms.backend import Backend

BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        at_modem.BACKEND,
        smpp.BACKEND,
        http_gateway.BACKEND,
    )
}


def backend_for(value: str) -> Backend | None:
    """The back-end an input picks: by its explicit prefix, else by an older form a back-end still accepts."""
    for backend in BACKENDS.values():
        if backend.claims(value):
            return backend
    for backend in BACKENDS.values():
        if backend.legacy(value):
            return backend
    return None
