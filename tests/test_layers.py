"""How the code is layered: no module imports itself through others, the engine imports no
measure by name (it finds them, `sim/registry.py`), and a measure imports only the engine's
building blocks, never the model that runs it."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "agents", "policies", "experiments")
# What runs the measures: a measure importing one of these would import itself back.
ASSEMBLY = {"sim.registry", "sim.measure_steps", "sim.plan", "sim.model", "sim.metrics", "sim.exit_routes",
            "sim.setup", "sim.synth", "sim.precompile"}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).glob("*.py")):
            name = package if path.name == "__init__.py" else f"{package}.{path.stem}"
            out[name] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in known else base)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_through_others():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_engine_imports_no_measure_and_a_measure_imports_no_engine_assembly():
    graph = _graph()
    engine_to_measures = [f"{m} -> {d}" for m, ds in graph.items() if m.split(".")[0] in ("sim", "agents")
                          for d in ds if d.split(".")[0] == "policies"]
    assert not engine_to_measures, engine_to_measures
    measures_to_assembly = [f"{m} -> {d}" for m, ds in graph.items() if m.split(".")[0] == "policies"
                            for d in ds if d in ASSEMBLY or d.split(".")[0] in ("agents", "experiments")]
    assert not measures_to_assembly, measures_to_assembly


def test_the_checks_see_a_cycle_and_a_function_level_import(tmp_path):
    known = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py"}
    known["pkg.a"].write_text("from .b import x\n")
    known["pkg.b"].write_text("def f():\n    from pkg.a import y\n")
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert _cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
