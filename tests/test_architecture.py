"""The package's shape, as docs/architecture.md ("Layers") promises it: only the messaging
package imports Celery or kombu, and no module imports itself through others.

``lint-imports`` (run by .ci/run) checks the layer contract in .importlinter; these check
single modules, which that contract cannot: a cycle across packages, or a module outside
``messaging`` that imports Celery directly (the CLI included).
"""

from __future__ import annotations

import grimp

PACKAGE = "timesheet_batch"
CELERY_PACKAGE = f"{PACKAGE}.messaging"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, include_external_packages=True)


def test_only_the_messaging_package_imports_celery_or_kombu():
    graph = _graph()
    importers = {m for external in ("celery", "kombu") for m in graph.find_modules_that_directly_import(external)}
    assert importers, "grimp saw no import of celery at all: the check would pass vacuously"
    assert {m for m in importers if not m.startswith(CELERY_PACKAGE + ".")} == set()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _module_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    # A package's __init__ is a module too; its own submodules importing the package name is
    # not a cycle of code, so edges to an ancestor package are left out.
    ours = {m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + ".")}
    return {m: {i for i in graph.find_modules_directly_imported_by(m)
                if i in ours and not m.startswith(i + ".")} for m in ours}


def test_the_module_graph_has_no_cycle():
    assert _cycles(_module_edges(_graph())) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
