"""The documentation is true: every link in README.md and docs/*.md to a local file (and heading) resolves,
the README's Python example runs against a trained model, and the bad-input table of
docs/troubleshooting.md is the one made from tests/test_bad_inputs.py's rows.

    python -m tests.test_docs --write     # rewrite that table from the rows"""
import re
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"
BEGIN, END = "<!-- bad-inputs:begin", "<!-- bad-inputs:end -->"

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text without its fenced code blocks (a `# comment` in a block is not a heading)."""
    return FENCE.sub("", text)


def anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for title in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", prose(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path, text: str | None = None) -> list[str]:
    """Every link of `page` to a local file that does not exist, or to a heading that is not there."""
    text = page.read_text() if text is None else text
    bad = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{page.relative_to(ROOT)}: {target}: no such file")
        elif frag and dest.suffix == ".md" and frag not in anchors(dest.read_text() if path else text):
            bad.append(f"{page.relative_to(ROOT)}: {target}: no heading #{frag} in {dest.name}")
    return bad


def test_every_local_link_resolves():
    assert len(PAGES) >= 8
    bad = [b for page in PAGES for b in broken_links(page)]
    assert bad == []


def test_the_link_check_finds_broken_links():
    page = ROOT / "docs" / "capture.md"
    text = ("# Title\n\n## A `b` (c=d)\n\n[ok](#a-b-cd) [ok](dataset-format.md#output-level) "
            "![img](run_report.png) [web](https://hydra.cc)\n"
            "[gone](nosuch.md) [no heading](training.md#nowhere) [here](#not-here)\n"
            "```\n[in code](ignored.md)\n```\n")
    assert broken_links(page, text) == [
        "docs/capture.md: nosuch.md: no such file",
        "docs/capture.md: training.md#nowhere: no heading #nowhere in training.md",
        "docs/capture.md: #not-here: no heading #not-here in capture.md",
    ]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.M | re.S)


def test_readme_python_example_runs(trained_run, tmp_path, monkeypatch):
    """The README's example as a user runs it: in a folder whose outputs/runs/gain_sweep holds a trained
    run (an experiment's runs folder: the newest run is loaded), with a DI at another rate than the
    model's."""
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) == 1 and "AmpModel.load(" in blocks[0] and ".render(" in blocks[0]
    runs = tmp_path / "outputs" / "runs" / "gain_sweep"
    for stamp in ("20260101-000000", "20260102-000000"):
        (runs / stamp).mkdir(parents=True)
        (runs / stamp / "model.keras").write_bytes((trained_run / "model.keras").read_bytes())
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(np.arange(2 * 44100) * 2 * np.pi * 110 / 44100) + 0.01 * rng.standard_normal(2 * 44100))
    sf.write(tmp_path / "di.wav", x.astype(np.float32), 44100, subtype="FLOAT")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 44100 and len(y) == len(x) and np.isfinite(y).all() and np.abs(y).max() > 0
    assert scope["m"].knobs and "gain" in [k.name for k in scope["m"].knobs]


def bad_input_table() -> str:
    """The rows of tests/test_bad_inputs.py as a markdown table."""
    from tests.test_bad_inputs import ROWS, doc_command

    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| input | command (in a folder of its own) | the `error:` line contains | exit |", "|---|---|---|---|"]
    for r in ROWS:
        lines.append(f"| {cell(r.input)} | `{cell(doc_command(r))}` | "
                     f"{' ... '.join(f'`{cell(e)}`' for e in r.expect)} | {r.code} |")
    return "\n".join(lines)


def table_in(text: str) -> str:
    start = text.index(BEGIN)
    start = text.index("\n", start) + 1
    return text[start:text.index(END)].strip("\n")


def test_troubleshooting_table_is_the_test_rows():
    got = table_in(TROUBLESHOOTING.read_text())
    assert got == bad_input_table(), "docs/troubleshooting.md is out of date: run python -m tests.test_docs --write"


def write_table() -> None:
    text = TROUBLESHOOTING.read_text()
    start = text.index("\n", text.index(BEGIN)) + 1
    TROUBLESHOOTING.write_text(text[:start] + bad_input_table() + "\n" + text[text.index(END):])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    write_table()
    print(f"wrote {TROUBLESHOOTING.relative_to(ROOT)}")
