"""The code's shape, measured from its source with `ast` (nothing is imported):

    python -m tests.structure            # module map, import cycles, private names, longest functions
    python -m tests.structure --json     # the same as JSON

- module map: every module of the packages with its line count and the project modules it imports;
- import cycles: strongly connected groups in the graph of project imports, counting imports made
  anywhere in a module (a function-level import hides a cycle from Python, not from this graph);
- private names: `from a import _x` or `a._x` where `a` is another project module;
- longest functions: def/async def (methods included), measured from `def` to the last line of the body.

tests/test_structure.py asserts no cycles, no private names across modules and a ceiling on length.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ampcap", "capture", "amptrain")


def module_files(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    """{dotted module name: file} for every .py under the packages."""
    out = {}
    for pkg in packages:
        base = root / pkg
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[str, str | None, int]]:
    """(imported project module, name imported from it or None, line) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    roots = {k.split(".")[0] for k in known}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in roots:
                    out.append((a.name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_pkg, node)
            if target.split(".")[0] not in roots:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:  # `from pkg import module`
                    out.append((sub, None, node.lineno))
                else:
                    out.append((target, a.name, node.lineno))
    return out


def graph(files: dict[str, Path]) -> dict[str, set[str]]:
    known = set(files)
    g = {}
    for m, f in files.items():
        g[m] = {t for t, _, _ in imports_of(m, f, known) if t in known and t != m}
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def private_uses(files: dict[str, Path], root: Path = ROOT) -> list[str]:
    """'file:line: module imports a._x' for every private name taken from another project module."""
    known = set(files)
    found = []
    for m, f in files.items():
        for target, name, line in imports_of(m, f, known):
            if name and name.startswith("_") and not name.startswith("__") and target != m:
                found.append(f"{f.relative_to(root)}:{line}: from {target} import {name}")
        tree = ast.parse(f.read_text())
        aliases = {}  # local name -> project module, for `import a.b as c` / `from a import b`
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in known:
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(m, f.name == "__init__.py", node)
                for a in node.names:
                    if f"{target}.{a.name}" in known:
                        aliases[a.asname or a.name] = f"{target}.{a.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                dotted = _dotted(node.value)
                if dotted is None:
                    continue
                head, _, rest = dotted.partition(".")
                mod = aliases.get(head)
                if mod and rest:
                    mod = f"{mod}.{rest}"
                if mod in known and mod != m:
                    found.append(f"{f.relative_to(root)}:{node.lineno}: {mod}.{node.attr}")
    return sorted(set(found))


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def functions(files: dict[str, Path]) -> list[tuple[int, str]]:
    """(lines, 'module.qualname') for every function, longest first."""
    out = []
    for m, f in files.items():
        tree = ast.parse(f.read_text())

        def walk(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.append((child.end_lineno - child.lineno + 1, f"{m}.{prefix}{child.name}"))
                    walk(child, f"{prefix}{child.name}.")
                elif isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}{child.name}.")
                else:
                    walk(child, prefix)

        walk(tree, "")
    return sorted(out, key=lambda t: (-t[0], t[1]))


def measure(root: Path = ROOT) -> dict:
    files = module_files(root)
    g = graph(files)
    return {
        "modules": {m: {"lines": len(f.read_text().splitlines()), "imports": sorted(g[m])} for m, f in files.items()},
        "cycles": cycles(g),
        "private": private_uses(files),
        "longest": functions(files)[:15],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    r = measure()
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    print("module map (lines: project imports)")
    for m, d in r["modules"].items():
        print(f"  {m:36s} {d['lines']:4d}  {', '.join(d['imports'])}")
    print(f"\nimport cycles: {len(r['cycles'])}")
    for c in r["cycles"]:
        print("  " + " <-> ".join(c))
    print(f"\nprivate names used across modules: {len(r['private'])}")
    for u in r["private"]:
        print("  " + u)
    print("\nlongest functions")
    for n, name in r["longest"]:
        print(f"  {n:4d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
