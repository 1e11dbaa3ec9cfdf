"""The lab's world: its namespaces, links, addresses and names.

Every address is inside 198.18.0.0/15 (RFC 2544, benchmarking) except the bogon the
censor hands out, 127.0.0.2, which stays on the probe namespace's own loopback. The
"internet" side uses 198.19.0.0/16 so that an address says at a glance which side of the
censor it lives on; the links and the ISP's own hosts use 198.18.0.0/16.

    probe ns  isp0 198.18.1.2 ── probe0 198.18.1.1  isp ns  net0 198.18.2.1 ── isp0 198.18.2.2  net ns
                                 (ISP resolver; blockpage 198.18.3.1)          (servers on 198.19.x.y)
    net ns  helper0 198.18.4.1 ── net0 198.18.4.2  helper ns (outside the censor)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")
INTERNET = "198.19.0.0/16"

PROBE_ADDRESS = "198.18.1.2"
ISP_PROBE_SIDE = "198.18.1.1"
ISP_NET_SIDE = "198.18.2.1"
NET_ISP_SIDE = "198.18.2.2"
NET_HELPER_SIDE = "198.18.4.1"
HELPER_ADDRESS = "198.18.4.2"
LINK_PREFIX = 24

ISP_RESOLVER = ISP_PROBE_SIDE
"""The volunteer's system resolver: the ISP's, on its gateway."""
BLOCKPAGE = "198.18.3.1"
"""The censor's blockpage server, inside the ISP."""
INJECTED = "198.18.3.2"
"""The address an on-path injector forges; nothing listens there (connect is refused)."""
BOGON = "127.0.0.2"
"""A loopback answer: the probe connects to its own namespace's loopback, never elsewhere."""
AUTHORITATIVE = "198.19.0.53"
PUBLIC_RESOLVER = "198.19.8.8"
DOH_PATH = "/dns-query"
DOH_URL = f"https://{PUBLIC_RESOLVER}{DOH_PATH}"
"""The public resolver's DNS over HTTPS (on the sites' :443, for connections to its address): the zone's truth."""
SMPP_PORT = 2775

# Interface names are per namespace, so every lab can use the same ones.
PROBE_IF = "isp0"
ISP_PROBE_IF = "probe0"
ISP_NET_IF = "net0"
NET_ISP_IF = "isp0"
NET_HELPER_IF = "helper0"
HELPER_IF = "net0"


@dataclass(frozen=True)
class Site:
    """A name the lab's authoritative DNS serves, and the address of its server in the net ns."""

    name: str
    address: str
    title: str
    web: bool = True
    """Served on :80 and :443 (else only its own port, e.g. the SMSC)."""


SITES: tuple[Site, ...] = (
    Site("twitter.com", "198.19.1.1", "Twitter. It's what's happening"),
    Site("guljan.org", "198.19.1.2", "Гульжан.орг: новости Казахстана"),
    Site("ridus.ru", "198.19.1.3", "Ridus: новости дня"),
    Site("facebook.com", "198.19.1.4", "Facebook: log in or sign up"),
    Site("example.com", "198.19.1.5", "Example Domain"),
    Site("api.sms-gateway.kz", "198.19.2.1", "SMS gateway API"),
    Site("smsc.example.kz", "198.19.2.2", "SMSC", web=False),
)
SITES_BY_NAME = {site.name: site for site in SITES}
WEB_SITES = tuple(site for site in SITES if site.web)
CONTROL_SITES: tuple[Site, ...] = (
    Site("gov.kz", "198.19.3.1", "eGov: official information source of the Republic of Kazakhstan"),
    Site("egov.kz", "198.19.3.2", "Electronic government of the Republic of Kazakhstan"),
    Site("halykbank.kz", "198.19.3.3", "Halyk Bank"),
    Site("kaspi.kz", "198.19.3.4", "Kaspi.kz"),
    Site("wikipedia.org", "198.19.3.11", "Wikipedia"),
    Site("cloudflare.com", "198.19.3.12", "Cloudflare"),
    Site("google.com", "198.19.3.13", "Google"),
)
"""The shipped config's network controls (``[network]``), served too so that it runs in the lab unchanged;
not on the lab's site list (``WEB_SITES``), which the scenarios measure."""
SERVED_SITES = (*WEB_SITES, *CONTROL_SITES)
"""Every web site the lab's DNS and web servers answer for."""
SMS_API = SITES_BY_NAME["api.sms-gateway.kz"]
SMSC = SITES_BY_NAME["smsc.example.kz"]

NET_LOCAL_ADDRESSES = (
    AUTHORITATIVE,
    PUBLIC_RESOLVER,
    *(site.address for site in SITES),
    *(site.address for site in CONTROL_SITES),
)
ISP_LOCAL_ADDRESSES = (BLOCKPAGE, INJECTED)

BLOCKPAGE_MARKER = "Страница заблокирована"
BLOCKPAGE_TITLE = "Доступ ограничен"


def site_for(name: str) -> Site | None:
    """The lab site serving ``name`` or one of its subdomains (``www.twitter.com``)."""
    name = name.rstrip(".").lower()
    for site in (*SITES, *CONTROL_SITES):
        if name == site.name or name.endswith("." + site.name):
            return site
    return None


def is_lab_address(address: str) -> bool:
    """Whether traffic to ``address`` stays in the lab (its own range or a namespace's loopback)."""
    ip = ipaddress.ip_address(address)
    return ip in LAB_NETWORK or ip.is_loopback
