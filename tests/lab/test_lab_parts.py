"""The lab's parts without namespaces: scenario rules, DNS answers, the injector's forgery,
pages, policy files. These run everywhere, root or not."""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from probe.lab import plan
from probe.lab.censor import filter_table, nat_table
from probe.lab.errors import LabError
from probe.lab.outcomes import EXPECTED
from probe.lab.policy import ANSWER, NXDOMAIN, DNSLie, Policy, PolicyFile, write_policy
from probe.lab.scenarios import SCENARIOS, get_scenario, resolve_sites
from probe.lab.servers.dns import authoritative_answer, lie
from probe.lab.servers.injector import forge
from probe.lab.servers.web import PAGE_BYTES, blockpage, site_page

LAB_MD_ROWS = (
    "clean", "dns_nxdomain", "dns_blockpage", "dns_bogon", "dns_drop", "dns_injection", "dns_hijack_all",
    "dns_lie_port53", "ip_blackhole", "ip_reset", "http_host_reset", "residual_reset", "http_blockpage",
    "sni_reset", "sni_drop", "throttling", "site_down", "full_shutdown", "sms_gateway_cut",
)  # fmt: skip


def test_every_row_of_the_lab_table_is_a_scenario_with_expected_outcomes() -> None:
    assert tuple(SCENARIOS) == LAB_MD_ROWS
    assert set(EXPECTED) == set(SCENARIOS)
    for name, scenario in SCENARIOS.items():
        assert scenario.summary, name


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_rules_name_only_lab_addresses(name: str) -> None:
    scenario = SCENARIOS[name]
    rules = scenario.rules(resolve_sites(scenario, ()))
    text = "\n".join(rules.isp_filter + rules.isp_nat + rules.net_filter + rules.throttle) + rules.policy.to_json()
    for address in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text):
        assert plan.is_lab_address(address), (name, address)


def test_plan_addresses_are_lab_addresses_and_sites_are_unique() -> None:
    addresses = [plan.PROBE_ADDRESS, plan.ISP_RESOLVER, plan.BLOCKPAGE, plan.INJECTED, plan.AUTHORITATIVE]
    addresses += [plan.PUBLIC_RESOLVER, plan.HELPER_ADDRESS, *(site.address for site in plan.SITES)]
    assert all(ipaddress.ip_address(a) in plan.LAB_NETWORK for a in addresses)
    assert ipaddress.ip_address(plan.BOGON).is_loopback
    assert len({site.address for site in plan.SITES}) == len(plan.SITES)
    assert plan.site_for("www.Twitter.com.") == plan.SITES_BY_NAME["twitter.com"]
    assert plan.site_for("nottwitter.com") is None


def test_unknown_scenario_or_site_is_a_one_line_lab_error() -> None:
    with pytest.raises(LabError, match=r"^lab: no scenario 'nope' \(known: clean, "):
        get_scenario("nope")
    with pytest.raises(LabError, match=r"^lab: not a lab site: example\.org"):
        resolve_sites(get_scenario("ip_reset"), ["example.org"])
    with pytest.raises(LabError, match="takes no sites"):
        resolve_sites(get_scenario("full_shutdown"), ["twitter.com"])
    assert [s.name for s in resolve_sites(get_scenario("dns_drop"), [])] == ["twitter.com"]


def test_dns_drop_matches_the_name_as_it_is_written_in_a_query() -> None:
    [rule, *_] = get_scenario("dns_drop").rules(resolve_sites(get_scenario("dns_drop"), ["guljan.org"])).isp_filter
    assert '--hex-string "|0667756c6a616e036f726700|"' in rule  # \x06guljan\x03org\x00


def test_censor_tables_reset_everything_they_do_not_name() -> None:
    text = filter_table(("-A FORWARD -d 198.19.1.1 -j DROP",), "DROP") + nat_table(())
    assert text.startswith("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n")
    assert text.count("COMMIT") == 2 and "*nat\n:PREROUTING ACCEPT" in text


def test_authoritative_server_answers_lab_names_and_nxdomain_for_others() -> None:
    answer = authoritative_answer(dns.message.make_query("www.ridus.ru", "A"))
    assert answer.flags & dns.flags.AA and answer.answer[0][0].address == "198.19.1.3"
    assert authoritative_answer(dns.message.make_query("unknown.example", "A")).rcode() == dns.rcode.NXDOMAIN
    assert authoritative_answer(dns.message.make_query("twitter.com", "AAAA")).answer == []
    assert lie(dns.message.make_query("twitter.com", "A"), NXDOMAIN, None).rcode() == dns.rcode.NXDOMAIN


def _query_packet(source: str, destination: str, name: str, sport: int = 40000) -> tuple[bytes, int]:
    query = dns.message.make_query(name, "A")
    payload = query.to_wire()
    udp = struct.pack("!HHHH", sport, 53, 8 + len(payload), 0) + payload
    addresses = socket.inet_aton(source) + socket.inet_aton(destination)
    header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0) + addresses
    return header + udp, query.id


def test_injector_forges_an_answer_from_the_queried_resolver(tmp_path: Path) -> None:
    write_policy(tmp_path / "policy.json", Policy(inject={"twitter.com": plan.INJECTED}))
    policy = PolicyFile(tmp_path / "policy.json")
    packet, query_id = _query_packet(plan.PROBE_ADDRESS, plan.PUBLIC_RESOLVER, "twitter.com")
    forged = forge(packet, policy)
    assert forged is not None
    data, target = forged
    assert target == plan.PROBE_ADDRESS
    assert socket.inet_ntoa(data[12:16]) == plan.PUBLIC_RESOLVER  # spoofed source
    assert struct.unpack("!HH", data[20:24]) == (53, 40000)
    answer = dns.message.from_wire(data[28:])
    assert answer.id == query_id and answer.answer[0][0].address == plan.INJECTED
    # Left alone: other names, the ISP's own resolver, and anything not between lab addresses.
    assert forge(_query_packet(plan.PROBE_ADDRESS, plan.PUBLIC_RESOLVER, "example.com")[0], policy) is None
    assert forge(_query_packet(plan.PROBE_ADDRESS, plan.ISP_RESOLVER, "twitter.com")[0], policy) is None
    assert forge(_query_packet(plan.PROBE_ADDRESS, "8.8.8.8", "twitter.com")[0], policy) is None


def test_policy_file_is_reread_when_replaced_and_matches_subdomains(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    policy = PolicyFile(path)
    assert policy.current() == Policy()
    write_policy(path, Policy(resolver={"guljan.org": DNSLie(ANSWER, plan.BLOCKPAGE)}))
    assert policy.current().lie_for("www.guljan.org.") == DNSLie(ANSWER, plan.BLOCKPAGE)
    assert policy.current().lie_for("guljan.org.kz") is None
    write_policy(path, Policy(resolver={"guljan.org": DNSLie(NXDOMAIN)}))
    assert policy.current().lie_for("guljan.org") == DNSLie(NXDOMAIN)
    path.write_text("{not json", encoding="utf-8")
    assert policy.current() == Policy()


def test_site_pages_are_large_and_titled_and_the_blockpage_is_fingerprintable() -> None:
    page = site_page(plan.SITES_BY_NAME["guljan.org"])
    assert PAGE_BYTES - 200 <= len(page) <= PAGE_BYTES
    assert "<title>Гульжан.орг: новости Казахстана</title>".encode() in page
    assert plan.BLOCKPAGE_MARKER.encode() in blockpage()
    assert plan.BLOCKPAGE_MARKER.encode() not in page
