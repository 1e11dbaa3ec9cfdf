"""What every SMS back-end provides, and what the sms experiment gives it to measure with.

A back-end is a ``Backend``: its name (as listed in ``[sms] backends``), its settings table
``[sms.<name>]`` (a ``probe.config.BackendSection`` it declares itself), the explicit input forms
that pick it (``at:LABEL``, ``smpp://HOST:PORT``, ``https://...``), a check of an input's form, how
an input becomes an ``SMSTarget`` under the config, and ``measure``. Back-ends register in
``probe.sms.backends``, where the config finds their tables; neither the config nor the
experiment names one.

A back-end does not resolve names or open connections itself: the experiment hands it an
``SMSNetwork`` (the configured resolvers, TCP, TLS, one HTTP request), so DNS, TCP and TLS failures
are recorded alike for every back-end.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from probe.config import BackendSection, Config, SMSRecipient, SMSSection
from probe.model.sms import SMSTestKeys
from probe.net.trace import Trace

Section = TypeVar("Section", bound=BackendSection)


@dataclass(frozen=True)
class SMSTarget:
    backend: str
    label: str | None = None
    """The recipient label in ``[sms.recipients]`` the SMS goes to (None: reachability only)."""
    host: str = ""
    port: int = 0
    url: str = ""


class SMSNetwork(Protocol):
    """The network as the sms experiment measures it; each call concludes ``gateway_unreachable`` on failure."""

    trace: Trace

    def connect(self, host: str, port: int, keys: SMSTestKeys, *, use_tls: bool) -> socket.socket | None:
        """DNS, TCP to each address until one accepts, TLS if asked: the socket, or None (concluded)."""
        ...

    def reach(self, url: str, keys: SMSTestKeys) -> list[str] | None:
        """DNS, TCP, TLS and one unauthenticated GET of ``url``: the reachable addresses, or None (concluded).

        Any HTTP answer proves the API reachable; its status is ``keys.http_status``."""
        ...


Measure = Callable[[SMSTarget, Config, SMSRecipient | None, SMSTestKeys, SMSNetwork], None]


def _never(value: str) -> bool:
    return False


@dataclass(frozen=True)
class Backend(Generic[Section]):
    name: str
    """As listed in ``[sms] backends`` and stored in ``test_keys.backend``; its table is ``[sms.<name>]``."""
    section: type[Section]
    """Its settings, ``[sms.<name>]``: validated with the config (found through ``probe.sms.backends.sections``)."""
    prefixes: tuple[str, ...]
    """Input prefixes that pick this back-end (``at:``, ``smpp://``)."""
    form: str
    """The input's form, for help texts (``at:LABEL``)."""
    check: Callable[[str], str | None]
    """Why an input of this back-end cannot be measured, from its form alone; or None."""
    parse: Callable[[str, SMSSection], SMSTarget]
    """The target an input names under the config; ValueError with the reason."""
    measure: Measure
    """One measurement; its outcome is concluded in the keys."""
    legacy: Callable[[str], bool] = _never
    """An input form older than the prefixes that this back-end still accepts."""

    def claims(self, value: str) -> bool:
        return value.startswith(self.prefixes)

    def settings(self, sms: SMSSection) -> Section:
        """This back-end's table of the config's ``[sms]`` (its defaults when the file has none)."""
        return sms.section(self.name, self.section)
