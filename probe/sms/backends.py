"""The registry of SMS back-ends: adding one is its module (with its ``BACKEND``) and one line here.

The config validates ``[sms] backends`` and each ``[sms.<name>]`` table with what is registered here
(``sections``; the config is the bottom layer, so it imports this module by name, ``probe.config.SMS_BACKENDS_MODULE``,
when a config first needs a back-end), so a back-end's name and settings are declared in its own module only.
"""

from __future__ import annotations

from typing import Any

from probe.config import BackendSection
from probe.sms import at_modem, http_gateway, smpp
from probe.sms.backend import Backend

BACKENDS: dict[str, Backend[Any]] = {
    backend.name: backend
    for backend in (
        at_modem.BACKEND,
        smpp.BACKEND,
        http_gateway.BACKEND,
    )
}


def sections() -> dict[str, type[BackendSection]]:
    """Each registered back-end's settings table, ``[sms.<name>]``, by name: what the config validates with."""
    return {name: backend.section for name, backend in BACKENDS.items()}


def input_forms() -> str:
    """The registered back-ends' input forms, for help texts and messages."""
    return ", ".join(backend.form for backend in BACKENDS.values())


def backend_for(value: str) -> Backend[Any] | None:
    """The back-end an input picks: by its explicit prefix, else by an older form a back-end still accepts."""
    for backend in BACKENDS.values():
        if backend.claims(value):
            return backend
    for backend in BACKENDS.values():
        if backend.legacy(value):
            return backend
    return None
