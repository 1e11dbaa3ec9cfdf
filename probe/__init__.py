"""A network censorship measurement probe.

Layers, imported one way only (top imports bottom):

    cli/          thin command line over the library
    runner        runs experiments over a test list, concurrently, into storage
    experiments/  one module per experiment (web, dns, tcp), same small interface
    net/          network primitives (DNS, TCP, TLS, HTTP) that return typed observations
    storage/      SQLite through sqlite-utils
    model, config, testlist, failures, errors: shared concepts
"""

__version__ = "0.1.0"
SOFTWARE_NAME = "zhanaozen-probe"
