"""What the censor's user-space parts do: the ISP resolver's lies and the on-path injector's names.

A scenario writes the policy as JSON (atomically); the ISP resolver and the injector, running
in their own processes, reread it whenever the file changes, so a scenario switch takes
effect on the next query.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

_T = TypeVar("_T")

NXDOMAIN: Literal["nxdomain"] = "nxdomain"
ANSWER: Literal["answer"] = "answer"


@dataclass(frozen=True)
class DNSLie:
    """How the ISP resolver answers for a name: NXDOMAIN, or one A record of its choosing."""

    action: Literal["nxdomain", "answer"]
    address: str | None = None


@dataclass(frozen=True)
class Policy:
    resolver: dict[str, DNSLie] = field(default_factory=dict)
    """Names (and their subdomains) the ISP resolver lies about."""
    inject: dict[str, str] = field(default_factory=dict)
    """Names whose queries to foreign resolvers get a forged answer with this address."""

    def lie_for(self, qname: str) -> DNSLie | None:
        return _lookup(self.resolver, qname)

    def injection_for(self, qname: str) -> str | None:
        return _lookup(self.inject, qname)

    def to_json(self) -> str:
        resolver = {name: {"action": lie.action, "address": lie.address} for name, lie in self.resolver.items()}
        return json.dumps({"resolver": resolver, "inject": self.inject}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Policy:
        data = json.loads(text)
        resolver = {
            str(name): DNSLie(NXDOMAIN if lie["action"] == NXDOMAIN else ANSWER, lie.get("address"))
            for name, lie in data.get("resolver", {}).items()
        }
        return cls(resolver, {str(k): str(v) for k, v in data.get("inject", {}).items()})


def _lookup(table: dict[str, _T], qname: str) -> _T | None:
    name = qname.rstrip(".").lower()
    while name:
        if name in table:
            return table[name]
        _, _, name = name.partition(".")
    return None


def write_policy(path: Path, policy: Policy) -> None:
    """Replace the policy file in one step: a reader sees the old policy or the new, never half."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(policy.to_json(), encoding="utf-8")
    os.replace(tmp, path)


class PolicyFile:
    """The policy in ``path``, reread when the file is replaced; empty while it is missing or broken."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._policy = Policy()

    def current(self) -> Policy:
        try:
            stat = self.path.stat()
        except OSError:
            return Policy()
        stamp = (stat.st_ino, stat.st_mtime_ns)
        if stamp != self._stamp:
            try:
                self._policy = Policy.from_json(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError):
                self._policy = Policy()
            self._stamp = stamp
        return self._policy
