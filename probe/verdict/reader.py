"""Reading one web measurement's OONI-shaped test keys into an ``Observation`` (``observe``), and a test
helper's answer into a ``Control`` (``parse_control``).

The probe's own web measurements and OONI's web_connectivity measurements share the df-001/002/
005/006 shapes, so one reader serves both. The reader is lenient: old OONI formats miss keys,
store headers base64-encoded, or trim bodies; what is missing is ``None``, never an error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from probe import failures
from probe.addresses import is_ip, url_port
from probe.net.html import title as html_title
from probe.net.names import canonical_name
from probe.verdict.observation import (
    Attempt,
    Control,
    ControlHTTP,
    DNSView,
    HTTPHop,
    Injection,
    Observation,
    TCPResult,
    TLSResult,
)

# OONI's legacy test helper says NXDOMAIN its own way.
_CONTROL_FAILURE_ALIASES = {"dns_name_error": failures.DNS_NXDOMAIN}

_SYSTEM_ENGINES = ("system", "getaddrinfo", "golang_net_resolver", None)


# --- helpers ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A string field that OONI may store as ``{"format": "base64", "data": ...}``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("format") == "base64":
        raw = _b64(value.get("data"))
        return raw.decode("utf-8", errors="replace").replace("\x00", "") if raw is not None else None
    return str(value)


def _b64(data: Any) -> bytes | None:
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None


def _body(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    if isinstance(value, Mapping) and value.get("format") == "base64":
        return _b64(value.get("data"))
    return None


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    result: dict[str, str] = {}
    for key, raw in value.items():
        if isinstance(raw, list):  # OONI's control request style: name -> [values]
            raw = raw[-1] if raw else ""
        text = _text(raw)
        if text is not None:
            result[str(key)] = text
    return result


def _failure(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return _CONTROL_FAILURE_ALIASES.get(text, text)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- DNS -------------------------------------------------------------------------------------------------


def _answers(query: Mapping[str, Any]) -> tuple[list[str], list[str], dict[str, int]]:
    addresses: list[str] = []
    cnames: list[str] = []
    asns: dict[str, int] = {}
    for answer in _list(query.get("answers")):
        answer = _dict(answer)
        address = answer.get("ipv4") or answer.get("ipv6")
        if isinstance(address, str) and address:
            if address not in addresses:
                addresses.append(address)
            if isinstance(answer.get("asn"), int) and answer["asn"] > 0:
                asns[address] = answer["asn"]
        elif isinstance(answer.get("hostname"), str) and answer.get("answer_type") in ("CNAME", None):
            cnames.append(canonical_name(answer["hostname"]))
    return addresses, cnames, asns


def _resolver_key(query: Mapping[str, Any]) -> tuple[Any, Any]:
    return query.get("engine"), query.get("resolver_address") or query.get("resolver_hostname")


def _dns_views(queries: list[Mapping[str, Any]], host: str, source: str) -> tuple[DNSView, list[DNSView]]:
    """The answer the probe connected with, and every other resolver's."""
    relevant = [q for q in queries if canonical_name(str(q.get("hostname", ""))) == host]
    counted = [q for q in relevant if "late_response" not in _list(q.get("tags"))]
    if not counted:
        return DNSView(), []
    groups: dict[tuple[Any, Any], list[Mapping[str, Any]]] = {}
    for query in counted:
        groups.setdefault(_resolver_key(query), []).append(query)
    keys = list(groups)
    primary_key = keys[0]
    if source == "ooni":  # the "classic" lookup is the system resolver's
        primary_key = next((key for key in keys if key[0] in _SYSTEM_ENGINES), keys[0])
    views = {key: _merge(group, key) for key, group in groups.items()}
    return views[primary_key], [view for key, view in views.items() if key != primary_key]


def _merge(queries: list[Mapping[str, Any]], key: tuple[Any, Any]) -> DNSView:
    engine, resolver = key
    view = DNSView(engine=str(engine) if engine is not None else None, resolver=str(resolver or ""))
    failures_seen: list[str] = []
    for query in queries:
        addresses, cnames, asns = _answers(query)
        view.addresses += [a for a in addresses if a not in view.addresses]
        view.cnames += [c for c in cnames if c not in view.cnames]
        view.asns.update(asns)
        failure = _failure(query.get("failure"))
        if failure:
            failures_seen.append(failure)
    if not view.addresses and failures_seen:
        # NXDOMAIN for A with dns_no_answer for AAAA is still NXDOMAIN.
        view.failure = failures.DNS_NXDOMAIN if failures.DNS_NXDOMAIN in failures_seen else failures_seen[0]
    return view


def _injections(queries: list[Mapping[str, Any]], host: str) -> list[Injection]:
    found: list[Injection] = []
    by_id: dict[tuple[Any, Any, Any], list[Mapping[str, Any]]] = {}
    for query in queries:
        if canonical_name(str(query.get("hostname", ""))) != host:
            continue
        key = (*_resolver_key(query), query.get("transaction_id"))
        by_id.setdefault(key, []).append(query)
    for (_, resolver, _), group in by_id.items():
        first = [q for q in group if "late_response" not in _list(q.get("tags"))]
        late = [q for q in group if "late_response" in _list(q.get("tags"))]
        if not first or not late:
            continue
        first_addresses = set(_answers(first[0])[0])
        for entry in late:
            late_addresses = set(_answers(entry)[0])
            # A retransmitted or duplicated datagram repeats the same answer: only a different one counts.
            if late_addresses and late_addresses != first_addresses:
                found.append(Injection(str(resolver or ""), sorted(first_addresses), sorted(late_addresses)))
                break
    return found


# --- attempts --------------------------------------------------------------------------------------------


def _hops(requests: list[Any]) -> list[HTTPHop]:
    hops: list[HTTPHop] = []
    for entry in reversed(requests):  # df-001 lists the most recent round trip first
        entry = _dict(entry)
        request = _dict(entry.get("request"))
        response = _dict(entry.get("response"))
        headers = _headers(response.get("headers"))
        body = _body(response.get("body"))
        code = response.get("code")
        length = response.get("x_body_length")
        if not isinstance(length, int):
            length = len(body) if body is not None else None
        title = response.get("x_title")
        if not isinstance(title, str) and body is not None:
            title = html_title(body, headers.get("Content-Type") or headers.get("content-type"))
        t0, t = _float(entry.get("t0")), _float(entry.get("t"))
        hops.append(
            HTTPHop(
                url=str(request.get("url") or ""),
                failure=_failure(entry.get("failure")),
                code=code if isinstance(code, int) and code > 0 else None,
                headers=headers,
                body=body,
                body_length=length,
                truncated=bool(response.get("body_is_truncated")),
                title=title if isinstance(title, str) else None,
                seconds=(t - t0) if t0 is not None and t is not None else None,
            )
        )
    return hops


def _with_unfollowed_redirect(hops: list[HTTPHop], http_failure: str | None) -> list[HTTPHop]:
    """The chain with the round trip to a redirect's target that failed before it began, as the probe records it.

    OONI's probe keeps no entry for a redirect it could not follow (its target's name did not resolve, say):
    ``requests`` ends with the 3xx and the failure is only ``http_experiment_failure``. The probe records that
    round trip with its failure; both shapes are read as the probe's."""
    last = hops[-1] if hops else None
    if last is None or http_failure is None or last.failure is not None or last.code is None:
        return hops
    location = last.header("location")
    if not 300 <= last.code < 400 or not location:
        return hops
    target = urljoin(last.url, location.strip())
    return [*hops, HTTPHop(target, http_failure, None, {}, None, None, False, None, None)]


def _attempt(keys: Mapping[str, Any], host: str, port: int, source: str) -> Attempt:
    queries = [_dict(q) for q in _list(keys.get("queries"))]
    dns_view, others = _dns_views(queries, host, source)
    dns_failure = _failure(keys.get("dns_experiment_failure"))
    if dns_failure and not dns_view.failure and not dns_view.addresses:
        dns_view.failure = dns_failure
    tcp = []
    for entry in _list(keys.get("tcp_connect")):
        entry = _dict(entry)
        status = _dict(entry.get("status"))
        if isinstance(entry.get("ip"), str) and isinstance(entry.get("port"), int):
            tcp.append(
                TCPResult(entry["ip"], entry["port"], bool(status.get("success")), _failure(status.get("failure")))
            )
    tls = [
        TLSResult(
            address=str(_dict(entry).get("address") or ""),
            server_name=str(_dict(entry).get("server_name") or ""),
            failure=_failure(_dict(entry).get("failure")),
            issuer=_dict(entry).get("x_issuer"),
            no_tls_verify=bool(_dict(entry).get("no_tls_verify")),
        )
        for entry in _list(keys.get("tls_handshakes"))
    ]
    http_failure = _failure(keys.get("http_experiment_failure"))
    hops = _with_unfollowed_redirect(_hops(_list(keys.get("requests"))), http_failure)
    failure = _failure(keys.get("x_failure")) if "x_failure" in keys else None
    failed_step = keys.get("x_failed_step") if isinstance(keys.get("x_failed_step"), str) else None
    if "x_failure" not in keys:
        on_port = [entry for entry in tcp if entry.port == port] or tcp
        failure, failed_step = _overall_failure(dns_view, dns_failure, on_port, tls, hops, http_failure)
    return Attempt(
        dns=dns_view,
        resolvers=others,
        injections=_injections(queries, host),
        tcp=tcp,
        tls=tls,
        http=hops,
        dns_failure=dns_failure or dns_view.failure,
        http_failure=http_failure,
        failure=failure,
        failed_step=failed_step,
    )


def _overall_failure(
    dns_view: DNSView,
    dns_failure: str | None,
    tcp: list[TCPResult],
    tls: list[TLSResult],
    hops: list[HTTPHop],
    http_failure: str | None,
) -> tuple[str | None, str | None]:
    """The failure that decided the attempt, as ``Measurement.failure`` would say it."""
    if not dns_view.addresses and (dns_failure or dns_view.failure):
        return dns_failure or dns_view.failure, "dns"
    final = hops[-1] if hops else None
    if final is not None and final.failure is None and final.code is not None and not http_failure:
        return None, None
    if tcp and not any(entry.ok for entry in tcp):
        return tcp[0].failure, "tcp"
    if tls and all(entry.failure for entry in tls):
        return tls[0].failure, "tls"
    failure = http_failure or (final.failure if final is not None else None)
    if failure:
        return failure, "http"
    if final is None:
        return "unknown_failure no_response", "http"
    return None, None


# --- control ---------------------------------------------------------------------------------------------


def parse_control(data: Any) -> Control | None:
    """The test helper's answer (OONI's shape), or None when there is none."""
    data = _dict(data)
    if not data:
        return None
    dns = None
    if "dns" in data:
        raw = _dict(data["dns"])
        names = [str(a) for a in _list(raw.get("addrs"))]
        asns: dict[str, int] = {}
        for address, info in _dict(data.get("ip_info")).items():
            if isinstance(_dict(info).get("asn"), int) and info["asn"] > 0:
                asns[str(address)] = info["asn"]
        dns = DNSView(
            addresses=[a for a in names if is_ip(a)],
            cnames=[canonical_name(a) for a in names if not is_ip(a)],
            failure=_failure(raw.get("failure")),
            asns=asns,
        )
    # Endpoints the helper chose not to measure (private addresses) are no evidence either way.
    tcp = {
        str(endpoint): (bool(_dict(v).get("status")), _failure(_dict(v).get("failure")))
        for endpoint, v in _dict(data.get("tcp_connect")).items()
        if "x_skipped" not in _dict(v)
    }
    tls = {
        str(endpoint): TLSResult(
            address=str(endpoint),
            server_name=str(_dict(v).get("server_name") or ""),
            failure=None if _dict(v).get("status") else (_failure(_dict(v).get("failure")) or "unknown_failure"),
            issuer=_dict(v).get("x_issuer"),
        )
        for endpoint, v in _dict(data.get("tls_handshake")).items()
    }
    http = None
    if "http_request" in data and "x_skipped" not in _dict(data["http_request"]):
        raw = _dict(data["http_request"])
        status = raw.get("status_code")
        length = raw.get("body_length")
        http = ControlHTTP(
            status=status if isinstance(status, int) and status > 0 else None,
            headers=_headers(raw.get("headers")),
            title=raw.get("title") if isinstance(raw.get("title"), str) else None,
            body_length=length if isinstance(length, int) and length >= 0 else None,
            failure=_failure(raw.get("failure")),
            seconds=_float(raw.get("x_transfer_seconds")),
            final_url=raw.get("x_final_url") if isinstance(raw.get("x_final_url"), str) else None,
        )
    return Control(dns=dns, tcp=tcp, tls=tls, http=http)


def observe(url: str, keys: Mapping[str, Any], *, source: str = "probe") -> Observation:
    """The observation in one web measurement's test keys (the probe's own, or OONI's: ``source="ooni"``).

    A ``control_failure`` means there is no control, whatever ``control`` holds: older probes store
    the failure *and* a control of empty placeholders (status -1, no addresses), which must not read
    as "the control cannot fetch it either".
    """
    host = canonical_name(urlsplit(url).hostname or "")
    port = url_port(url)
    attempts = [_attempt(keys, host, port, source)]
    attempts += [_attempt(_dict(retry), host, port, source) for retry in _list(keys.get("x_retries"))]
    control_failure = _failure(keys.get("control_failure"))
    after_failure = _failure(keys.get("x_control_after_failure"))
    return Observation(
        url=url,
        attempts=attempts,
        control=None if control_failure else parse_control(keys.get("control")),
        control_failure=control_failure,
        control_after=None if after_failure else parse_control(keys.get("x_control_after")),
        control_after_failure=after_failure,
        source=source,
    )
