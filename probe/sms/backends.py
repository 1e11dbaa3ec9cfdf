"""The registry of SMS back-ends: adding one is its module (with its ``BACKEND``) and one line here.

The config validates ``[sms] backends`` and each ``[sms.<name>]`` table with what is registered here
(``use_sms_backends``: the config is the bottom layer and cannot import this module), so a
back-end's name and settings are declared in its own module only.
"""

from __future__ import annotations

from typing import Any

from probe.config import BackendSection, use_sms_backends
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


def _sections() -> dict[str, type[BackendSection]]:
    return {name: backend.section for name, backend in BACKENDS.items()}


use_sms_backends(_sections)


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
