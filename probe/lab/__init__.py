"""A censorship lab on this machine: network namespaces, real servers, and a censor whose
scenarios can be switched while a probe runs (``docs/lab.md`` has the scenario table).

    probe.lab.lab        ``Lab``, the context manager that builds, switches and removes it
    probe.lab.scenarios  one function per scenario, and ``SCENARIOS``
    probe.lab.plan       the lab's addresses and names (all in 198.18.0.0/15)
    probe.lab.topology   namespaces, links, routes; their removal
    probe.lab.censor     applying a scenario's rules (iptables, tc, the DNS policy)
    probe.lab.servers    DNS, web, blockpage, SMPP and the DNS injector, run by ``probe.lab.serve``
    probe.lab.expected   what the probe records under each scenario (tests, benchmarks)
    probe.lab.districts  a country of districts: many probes' daemons behind their ISPs' routers, one collector
    probe.lab.regional_proof  a district cut, a mobile-only cut and a machine off, played on a country (issue 21)

Kept free of imports so that ``probe``'s own commands do not pay for the lab's.
"""
