"""The code's shape stays as issue 17 left it (measured by tests/structure.py from the source, with
`ast`): no import cycles between project modules, counting function-level imports (a cycle hidden in a
function is still a cycle); no private name (`_x`) taken from another module; no function longer than
LIMIT lines."""
from tests.structure import cycles, functions, graph, module_files, private_uses

LIMIT = 60


def test_no_import_cycles():
    assert cycles(graph(module_files())) == []


def test_no_private_names_across_modules():
    assert private_uses(module_files()) == []


def test_functions_are_short():
    long = [f"{name}: {n} lines" for n, name in functions(module_files()) if n > LIMIT]
    assert long == []


def test_the_checks_see_a_cycle_hidden_in_a_function_and_a_private_import(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import helper\n")
    (pkg / "b.py").write_text("def helper():\n    from .a import _secret\n    return _secret\n")
    files = module_files(tmp_path, ("pkg",))
    assert cycles(graph(files)) == [["pkg.a", "pkg.b"]]
    assert private_uses(files, tmp_path) == ["pkg/b.py:2: from pkg.a import _secret"]
