"""No module of ``probe`` imports itself through others, within a package or across packages.

The layers contract (``test_layers``) keeps packages apart; this keeps the modules inside one package in an
order too, so that each can be read, tested and moved after the ones it uses. Every import counts, one made
inside a function (to load something only when it is needed) as much as one at the top: the modules still
depend on each other. Only imports under ``if TYPE_CHECKING:`` are left out, since they never run and exist
for annotations alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Set

import grimp

Graph = Mapping[str, Set[str]]
"""Each module and the modules it imports."""


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of ``package`` it imports, ``TYPE_CHECKING`` imports left out."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def shortest_cycle_through(graph: Graph, start: str) -> list[str] | None:
    """The shortest chain of imports from ``start`` back to itself (``start`` first and last), or None."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:  # each module is queued at most once
        module = queue.popleft()
        for imported in sorted(graph.get(module, ())):
            if imported == start:
                path = [module]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if module != start else [start, start]
            if imported not in came_from:
                came_from[imported] = module
                queue.append(imported)
    return None


def cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle for each set of modules that import each other, each named once."""
    found: dict[frozenset[str], list[str]] = {}
    for module in sorted(graph):
        cycle = shortest_cycle_through(graph, module)
        if cycle is not None and frozenset(cycle) not in found:
            found[frozenset(cycle)] = cycle
    return list(found.values())


def test_no_module_of_probe_imports_itself_through_others() -> None:
    found = [" -> ".join(cycle) for cycle in cycles(import_graph("probe"))]
    assert not found, "import cycles (break each where the arrow should not be):\n" + "\n".join(found)


def test_a_cycle_is_named_by_the_imports_that_close_it() -> None:
    graph = {
        "p.store": {"p.sqlite", "p.common"},
        "p.sqlite": {"p.store", "p.common"},
        "p.common": set(),
        "p.ingest": {"p.store", "p.ingest"},
    }
    assert cycles(graph) == [["p.ingest", "p.ingest"], ["p.sqlite", "p.store", "p.sqlite"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_long_cycle_is_found_from_each_of_its_modules() -> None:
    graph = {"a": {"b"}, "b": {"c", "x"}, "c": {"d"}, "d": {"a"}, "x": set()}
    assert shortest_cycle_through(graph, "c") == ["c", "d", "a", "b", "c"]
    assert shortest_cycle_through(graph, "x") is None
