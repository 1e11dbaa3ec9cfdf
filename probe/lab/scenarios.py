"""Censorship scenarios: one function per row of the lab's table (``docs/lab.md``).

A scenario function is pure: given the sites it targets, it returns the ``Rules`` the
censor (isp ns) and the internet (net ns) must follow. ``Censor.apply`` (``probe.lab.censor``)
resets everything, then applies them, so any scenario can follow any other while a probe
keeps running.

    clean            nothing
    dns_nxdomain     the ISP resolver answers NXDOMAIN for the sites
    dns_blockpage    the ISP resolver answers the blockpage server's address
    dns_bogon        the ISP resolver answers 127.0.0.2 (the probe's own loopback)
    dns_drop         UDP/53 queries naming the sites are dropped (to any resolver)
    dns_injection    queries for the sites to foreign resolvers get a forged answer first
    dns_hijack_all   every UDP/TCP 53 is DNATed to the ISP resolver, which lies (blockpage)
    dns_lie_port53   every UDP/TCP 53 is DNATed to the ISP resolver, which says NXDOMAIN; DoH is left alone
    ip_blackhole     packets to the sites' addresses are dropped
    ip_reset         TCP to the sites' addresses is answered with a RST
    http_host_reset  a "Host: site" request on :80 is answered with a RST
    residual_reset   the same RST, then every packet to that server's :80 is dropped for RESIDUAL_SECONDS
    http_blockpage   :80 of the sites' addresses is DNATed to the blockpage server
    sni_reset        a ClientHello naming the site on :443 is answered with a RST
    sni_drop         the same ClientHello is dropped
    throttling       traffic from the sites to the probe is shaped to 32 kbit/s (THROTTLE_RATE)
    site_down        the sites' own servers drop every packet (in the net ns: not censorship)
    full_shutdown    FORWARD policy DROP; the ISP resolver's upstream is unreachable
    sms_gateway_cut  the SMS API host is dropped, and the SMSC's SMPP port
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.name

from probe.lab import plan
from probe.lab.errors import LabError
from probe.lab.policy import ANSWER, NXDOMAIN, DNSLie, Policy

THROTTLE_RATE = "32kbit"
"""4 kB/s: a site's 200 kB page needs almost a minute, far beyond the probe's timeout."""
THROTTLE_QUEUE = 4
"""Packets the shaper holds; more are dropped (TCP retransmits), as a policer would."""
RESIDUAL_SECONDS = 15
"""How long ``residual_reset`` holds a server's port after a trigger. Real censors hold it 60-180 s; the
lab keeps it short so that tests and benchmarks can wait it out."""
RESIDUAL_LIST = "zp_residual"


@dataclass(frozen=True)
class Rules:
    """What one scenario asks for; ``Rules()`` is no censorship at all."""

    forward_policy: Literal["ACCEPT", "DROP"] = "ACCEPT"
    isp_filter: tuple[str, ...] = ()
    """``iptables-restore`` lines (``-A CHAIN ...``) for the isp ns filter table."""
    isp_nat: tuple[str, ...] = ()
    net_filter: tuple[str, ...] = ()
    """Lines for the net ns filter table: the internet's own failures, not the censor's."""
    throttle: tuple[str, ...] = ()
    """Addresses whose traffic towards the probe is shaped to ``THROTTLE_RATE``."""
    policy: Policy = field(default_factory=Policy)


Sites = Sequence[plan.Site]


def _lies(sites: Sites, lie: DNSLie) -> Policy:
    return Policy(resolver={site.name: lie for site in sites})


def _qname_hex(name: str) -> str:
    """``|07|twitter|03|com|00|``: the name as it appears in a DNS query, for ``--hex-string``."""
    wire = dns.name.from_text(name).to_wire() or b""
    return "|" + wire.hex() + "|"


def clean(sites: Sites) -> Rules:
    return Rules()


def dns_nxdomain(sites: Sites) -> Rules:
    return Rules(policy=_lies(sites, DNSLie(NXDOMAIN)))


def dns_blockpage(sites: Sites) -> Rules:
    return Rules(policy=_lies(sites, DNSLie(ANSWER, plan.BLOCKPAGE)))


def dns_bogon(sites: Sites) -> Rules:
    return Rules(policy=_lies(sites, DNSLie(ANSWER, plan.BOGON)))


def dns_drop(sites: Sites) -> Rules:
    # INPUT: queries to the ISP resolver itself; FORWARD: queries to resolvers outside.
    return Rules(
        isp_filter=tuple(
            f'-A {chain} -p udp --dport 53 -m string --algo bm --icase --hex-string "{_qname_hex(site.name)}" -j DROP'
            for site in sites
            for chain in ("INPUT", "FORWARD")
        )
    )


def dns_injection(sites: Sites) -> Rules:
    return Rules(policy=Policy(inject={site.name: plan.INJECTED for site in sites}))


def dns_hijack_all(sites: Sites) -> Rules:
    return Rules(
        isp_nat=tuple(
            f"-A PREROUTING -i {plan.ISP_PROBE_IF} -p {proto} --dport 53 ! -d {plan.ISP_RESOLVER} "
            f"-j DNAT --to-destination {plan.ISP_RESOLVER}:53"
            for proto in ("udp", "tcp")
        ),
        policy=_lies(sites, DNSLie(ANSWER, plan.BLOCKPAGE)),
    )


def dns_lie_port53(sites: Sites) -> Rules:
    # The lie is on port 53 only: DNS over HTTPS to the public resolver (:443) passes untouched.
    hijack = dns_hijack_all(sites)
    return Rules(isp_nat=hijack.isp_nat, policy=_lies(sites, DNSLie(NXDOMAIN)))


def ip_blackhole(sites: Sites) -> Rules:
    return Rules(isp_filter=tuple(f"-A FORWARD -d {site.address} -j DROP" for site in sites))


def ip_reset(sites: Sites) -> Rules:
    return Rules(
        isp_filter=tuple(f"-A FORWARD -d {site.address} -p tcp -j REJECT --reject-with tcp-reset" for site in sites)
    )


def _string_rule(port: int, text: str, target: str) -> str:
    return (
        f"-A FORWARD -i {plan.ISP_PROBE_IF} -p tcp --dport {port} "
        f'-m string --algo bm --icase --string "{text}" -j {target}'
    )


def http_host_reset(sites: Sites) -> Rules:
    return Rules(
        isp_filter=tuple(_string_rule(80, f"Host: {site.name}", "REJECT --reject-with tcp-reset") for site in sites)
    )


def residual_reset(sites: Sites) -> Rules:
    # First the hold (iptables "recent", keyed by the server's address), then the trigger that starts it.
    lines: list[str] = []
    for site in sites:
        where = f"-A FORWARD -i {plan.ISP_PROBE_IF} -p tcp -d {site.address} --dport 80"
        lines.append(f"{where} -m recent --name {RESIDUAL_LIST} --rdest --rcheck --seconds {RESIDUAL_SECONDS} -j DROP")
        lines.append(
            f'{where} -m string --algo bm --icase --string "Host: {site.name}" '
            f"-m recent --name {RESIDUAL_LIST} --rdest --set -j REJECT --reject-with tcp-reset"
        )
    return Rules(isp_filter=tuple(lines))


def http_blockpage(sites: Sites) -> Rules:
    return Rules(
        isp_nat=tuple(
            f"-A PREROUTING -i {plan.ISP_PROBE_IF} -p tcp -d {site.address} --dport 80 "
            f"-j DNAT --to-destination {plan.BLOCKPAGE}:80"
            for site in sites
        )
    )


def sni_reset(sites: Sites) -> Rules:
    return Rules(isp_filter=tuple(_string_rule(443, site.name, "REJECT --reject-with tcp-reset") for site in sites))


def sni_drop(sites: Sites) -> Rules:
    return Rules(isp_filter=tuple(_string_rule(443, site.name, "DROP") for site in sites))


def throttling(sites: Sites) -> Rules:
    return Rules(throttle=tuple(site.address for site in sites))


def site_down(sites: Sites) -> Rules:
    return Rules(net_filter=tuple(f"-A INPUT -d {site.address} -j DROP" for site in sites))


def full_shutdown(sites: Sites) -> Rules:
    # The gateway and its resolver still answer, but the resolver has no way out: SERVFAIL.
    return Rules(
        forward_policy="DROP",
        isp_filter=(f"-A OUTPUT -o {plan.ISP_NET_IF} -j REJECT --reject-with icmp-net-unreachable",),
    )


def sms_gateway_cut(sites: Sites) -> Rules:
    lines = tuple(
        f"-A FORWARD -d {site.address} -j DROP"
        if site.web
        else f"-A FORWARD -d {site.address} -p tcp --dport {plan.SMPP_PORT} -j DROP"
        for site in sites
    )
    return Rules(isp_filter=lines)


@dataclass(frozen=True)
class Scenario:
    name: str
    rules: Callable[[Sites], Rules]
    default_sites: tuple[str, ...] = ("twitter.com",)
    uses_sites: bool = True
    lingers: float = 0.0
    """Seconds the censor's state outlives a run (a residual hold): wait this long before measuring again."""

    @property
    def summary(self) -> str:
        for line in (__doc__ or "").splitlines():
            words = line.split(maxsplit=1)
            if words and words[0] == self.name:
                return words[1] if len(words) > 1 else ""
        return ""


_SMS = (plan.SMS_API.name, plan.SMSC.name)
SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("clean", clean, (), uses_sites=False),
        Scenario("dns_nxdomain", dns_nxdomain),
        Scenario("dns_blockpage", dns_blockpage),
        Scenario("dns_bogon", dns_bogon),
        Scenario("dns_drop", dns_drop),
        Scenario("dns_injection", dns_injection),
        Scenario("dns_hijack_all", dns_hijack_all),
        Scenario("dns_lie_port53", dns_lie_port53),
        Scenario("ip_blackhole", ip_blackhole),
        Scenario("ip_reset", ip_reset),
        Scenario("http_host_reset", http_host_reset),
        Scenario("residual_reset", residual_reset, lingers=RESIDUAL_SECONDS + 1.0),
        Scenario("http_blockpage", http_blockpage),
        Scenario("sni_reset", sni_reset),
        Scenario("sni_drop", sni_drop),
        Scenario("throttling", throttling),
        Scenario("site_down", site_down),
        Scenario("full_shutdown", full_shutdown, (), uses_sites=False),
        Scenario("sms_gateway_cut", sms_gateway_cut, _SMS),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise LabError(f"lab: no scenario {name!r} (known: {', '.join(SCENARIOS)})") from None


def resolve_sites(scenario: Scenario, names: Sequence[str]) -> tuple[plan.Site, ...]:
    """The lab sites named (the scenario's defaults when none are); ``LabError`` for an unknown name."""
    if not scenario.uses_sites:
        if names:
            raise LabError(f"lab: scenario {scenario.name} takes no sites")
        return ()
    chosen = list(names) or list(scenario.default_sites)
    unknown = [name for name in chosen if name not in plan.SITES_BY_NAME]
    if unknown:
        raise LabError(f"lab: not a lab site: {', '.join(unknown)} (known: {', '.join(plan.SITES_BY_NAME)})")
    return tuple(plan.SITES_BY_NAME[name] for name in dict.fromkeys(chosen))
