"""The import rules of the layout (docs: STYLE.md "Layout"), checked by reading every module of
the product with `ast`: imports at the top, inside functions and under `if TYPE_CHECKING` alike,
because a rule that only holds at runtime still ties the packages together for a reader.

- `tools` imports nothing from `agents` or `bot`;
- `bot.emulator` imports nothing of the product outside itself;
- `agents` imports nothing from `bot`; `agents.runtime` imports neither `agents.models` nor a
  concrete agent;
- no two modules of the product import each other, directly or around a longer cycle;
- test modules take shared helpers from tests/support.py, never from another `test_*` module.

Each rule is a small function of an import graph, so the same rules run on tiny made-up graphs
below to show that each one can fail."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("agents", "bot", "tools")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as the module that holds it names it."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


Graph = dict[str, list[Import]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def absolute(node: ast.ImportFrom, source: str, *, is_package: bool) -> str:
    """The absolute module a `from ... import` reads from, resolving leading dots."""
    if node.level == 0:
        return node.module or ""
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(
    tree: ast.AST, source: str, *, is_package: bool, known: set[str]
) -> Iterator[Import]:
    """Every import anywhere in the tree; `from m import x` targets m.x when that is a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, source, is_package=is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(source, sub if sub in known else base, node.lineno)


def graph_of(root: Path, packages: Iterable[str]) -> Graph:
    """The import graph of every module under the given top-level packages of `root`."""
    files = [f for package in packages for f in sorted((root / package).rglob("*.py"))]
    known = {module_name(f, root) for f in files}
    graph: Graph = {}
    for file in files:
        name = module_name(file, root)
        tree = ast.parse(file.read_text(), filename=str(file))
        is_package = file.name == "__init__.py"
        graph[name] = list(imports_of(tree, name, is_package=is_package, known=known))
    return graph


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def forbidden(
    graph: Graph, sources: Callable[[str], bool], targets: Callable[[str], bool]
) -> list[str]:
    found = (
        str(imp)
        for name, imps in sorted(graph.items())
        if sources(name)
        for imp in imps
        if targets(imp.target)
    )
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


def tools_violations(graph: Graph) -> list[str]:
    return forbidden(graph, lambda m: within(m, "tools"), lambda t: within(t, "agents", "bot"))


def emulator_violations(graph: Graph) -> list[str]:
    def product_outside_emulator(target: str) -> bool:
        return within(target, *PRODUCT) and not within(target, "bot.emulator")

    return forbidden(graph, lambda m: within(m, "bot.emulator"), product_outside_emulator)


def agents_violations(graph: Graph) -> list[str]:
    return forbidden(graph, lambda m: within(m, "agents"), lambda t: within(t, "bot"))


def runtime_violations(graph: Graph) -> list[str]:
    return forbidden(
        graph,
        lambda m: within(m, "agents.runtime"),
        # Anything in `agents` outside the runtime: the model clients and every concrete agent.
        lambda t: within(t, "agents") and not within(t, "agents.runtime"),
    )


def cycles(graph: Graph) -> list[str]:
    """One path per strongly connected group of modules (Tarjan), e.g. `a -> b -> a`."""
    edges = {
        name: sorted({i.target for i in imps if i.target in graph and i.target != name})
        for name, imps in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            groups.append([node, *group])

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [cycle_path(edges, sorted(g)) for g in groups if len(g) > 1]


def cycle_path(edges: dict[str, list[str]], group: list[str]) -> str:
    """A shortest way from the group's first module back to itself (breadth first)."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in edges[node]:
                if nxt in members and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        if start in came_from:
            break
        frontier = following
    path, node = [start], came_from[start]
    while node != start:
        path.append(node)
        node = came_from[node]
    return " -> ".join([start, *reversed(path[1:]), start])


def imports_of_test_modules(graph: Graph) -> list[str]:
    """Imports of a `test_*` module from anywhere under tests/."""
    return forbidden(
        graph, lambda m: True, lambda t: within(t, "tests") and t.split(".")[-1].startswith("test_")
    )


PRODUCT_GRAPH = graph_of(ROOT, PRODUCT)


def test_the_product_graph_is_read_from_every_module() -> None:
    expected = {"agents.runtime.policy", "bot.emulator.server", "agents.runtime.loop"}
    assert expected <= set(PRODUCT_GRAPH)
    assert "bot.slack.handlers" in {i.target for i in PRODUCT_GRAPH["bot.slack.app"]}


def test_tools_import_nothing_from_agents_or_bot() -> None:
    found = tools_violations(PRODUCT_GRAPH)
    assert found == [], "\n".join(found)


def test_the_emulator_imports_nothing_of_the_product() -> None:
    found = emulator_violations(PRODUCT_GRAPH)
    assert found == [], "\n".join(found)


def test_agents_import_nothing_from_bot() -> None:
    found = agents_violations(PRODUCT_GRAPH)
    assert found == [], "\n".join(found)


def test_the_runtime_imports_no_model_client_and_no_concrete_agent() -> None:
    found = runtime_violations(PRODUCT_GRAPH)
    assert found == [], "\n".join(found)


def test_no_import_cycles_in_the_product() -> None:
    found = cycles(PRODUCT_GRAPH)
    assert found == [], "\n".join(found)


def test_test_modules_take_shared_helpers_from_tests_support() -> None:
    found = imports_of_test_modules(graph_of(ROOT, ["tests"]))
    assert found == [], "\n".join(found)


# --- each rule can fail: the same functions on small made-up packages ---------------------------


TYPE_CHECKING_IMPORT = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    {}\n"


def write(root: Path, modules: dict[str, str]) -> Graph:
    """Lay out modules ("pkg.sub.mod": source) under root and read their import graph."""
    for name, source in modules.items():
        path = root.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in [path.parent, *path.parent.parents]:
            if parent == root:
                break
            (parent / "__init__.py").touch()
        path.write_text(source)
    return graph_of(root, sorted({name.split(".")[0] for name in modules}))


def test_each_kind_of_import_is_seen_top_level_in_functions_and_under_type_checking(
    tmp_path: Path,
) -> None:
    graph = write(
        tmp_path,
        {
            "tools.a": "import agents.x\n",
            "tools.b": "def f():\n    from bot import y\n",
            "tools.c": TYPE_CHECKING_IMPORT.format("from agents.x import Z"),
            "agents.x": "Z = 1\n",
            "bot.y": "",
        },
    )
    assert tools_violations(graph) == [
        "tools.a:1 imports agents.x",
        "tools.b:2 imports bot.y",
        "tools.c:3 imports agents.x",
    ]


def test_the_emulator_rule_fails_on_any_product_import_outside_the_emulator(
    tmp_path: Path,
) -> None:
    graph = write(
        tmp_path,
        {
            "bot.emulator.server": "from . import state\nfrom ..slack import blocks\n",
            "bot.emulator.state": "import tools.deploy\n",
            "bot.slack.blocks": "",
            "tools.deploy": "",
        },
    )
    assert emulator_violations(graph) == [
        "bot.emulator.server:2 imports bot.slack.blocks",
        "bot.emulator.state:1 imports tools.deploy",
    ]


def test_the_agents_and_runtime_rules_fail_on_their_forbidden_imports(tmp_path: Path) -> None:
    graph = write(
        tmp_path,
        {
            "agents.runtime.loop": "from agents.models import offline\nfrom agents import deploy\n",
            "agents.models.offline": "from bot.settings import Settings\n",
            "agents.deploy": "from agents.runtime import loop\n",
            "bot.settings": "Settings = 1\n",
        },
    )
    assert agents_violations(graph) == ["agents.models.offline:1 imports bot.settings"]
    assert runtime_violations(graph) == [
        "agents.runtime.loop:1 imports agents.models.offline",
        "agents.runtime.loop:2 imports agents.deploy",
    ]


def test_cycles_are_reported_as_paths_even_through_type_checking(tmp_path: Path) -> None:
    graph = write(
        tmp_path,
        {
            "bot.ui": TYPE_CHECKING_IMPORT.format("from bot.server import S"),
            "bot.server": "from bot import ui\n",
            "bot.a": "import bot.b\n",
            "bot.b": "import bot.c\n",
            "bot.c": "def f():\n    import bot.a\n",
            "bot.leaf": "import bot.a\n",
        },
    )
    assert sorted(cycles(graph)) == [
        "bot.a -> bot.b -> bot.c -> bot.a",
        "bot.server -> bot.ui -> bot.server",
    ]


def test_importing_a_test_module_from_another_test_is_caught(tmp_path: Path) -> None:
    graph = write(
        tmp_path,
        {
            "tests.scenarios.test_a": "from tests.scenarios.test_b import helper\n",
            "tests.scenarios.test_b": "def helper(): ...\n",
            "tests.support": "",
            "tests.scenarios.test_c": (
                "from tests.support import x\nfrom tests.scenarios import test_b\n"
            ),
        },
    )
    assert imports_of_test_modules(graph) == [
        "tests.scenarios.test_a:1 imports tests.scenarios.test_b",
        "tests.scenarios.test_c:2 imports tests.scenarios.test_b",
    ]
