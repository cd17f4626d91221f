"""Committed notebooks are executed, clean, runnable by the course kernel, and shaped so a learner finds their way."""
from __future__ import annotations

import ast
import base64
import json
import re
import struct
from pathlib import Path

import pytest

from sparrow_course.notebooks import KERNEL

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
TEMPLATE = ROOT / "templates" / "chapter_template.ipynb"
IDS = [p.name for p in NOTEBOOKS]
MACHINE_PATH = re.compile(r"/(?:root|home|tmp|work|Users|private/var)/|[A-Za-z]:\\\\Users\\\\")
# notes to the authors that must not reach a learner
INTERNAL_MARKER = re.compile(r"\(rewritten\b|\bTODO\b|\bFIXME\b|\bXXX\b", re.I)
MIN_DPI, PNG_WIDTH = 100, (300, 2400)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _code_cells(path: Path) -> list[dict]:
    return [c for c in _cells(path) if c["cell_type"] == "code"]


def _markdown(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")


def _opening(path: Path) -> str:
    """The markdown before "## The question": title, promise, objectives, prerequisites, times, lessons."""
    text = []
    for cell in _cells(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "## The question" in source:
            break
        if cell["cell_type"] == "markdown":
            text.append(source)
    return "\n".join(text)


def _number(path: Path) -> int:
    return int(path.name[:2])


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome_and_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_executed_and_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == KERNEL
    cells = _code_cells(path)
    unrun = [i for i, c in enumerate(cells) if "".join(c["source"]).strip() and c["execution_count"] is None]
    assert not unrun, f"code cells {unrun} were not executed; run `python3 tasks.py notebooks {path.name[:2]}`"
    counts = [c["execution_count"] for c in cells if c["execution_count"] is not None]
    assert counts == list(range(1, len(counts) + 1)), "cells were run out of order; re-execute top to bottom"
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"code cell {i} stores an error"
            assert out.get("name") != "stderr", f"code cell {i} stores stderr (a warning?): {''.join(out['text'])[:200]}"
        text = json.dumps(cell["outputs"])
        assert not MACHINE_PATH.search(text), f"code cell {i} shows a machine path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_chapter_shape(path):
    cells = _cells(path)
    markdown = _markdown(path)
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith(f"# {path.name[:2]} ")
    assert "## Exercises" in markdown, "every notebook ends with exercises"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` holds the knobs a learner may turn"
    code = _code_cells(path)
    ignored = sum("NBVAL_IGNORE_OUTPUT" in "".join(c["source"]) or "NBVAL_SKIP" in "".join(c["source"]) for c in code)
    assert ignored <= 0.25 * len(code), f"{ignored} of {len(code)} code cells escape nbval; keep those few"
    if _number(path) > 0:
        assert any(re.search(r"^\s*assert\b", "".join(c["source"]), re.M) for c in code), "a chapter asserts its claims"
        for heading in ("## The question", "## Setup", "## Claims", "## Summary", "## Further reading"):
            assert heading in markdown, f"the chapter lacks {heading!r}"


def _check_opening(opening: str, where: str) -> None:
    assert re.search(r"objective|you will be able to", opening, re.I), f"{where}: the opening lists its objectives"
    items = re.findall(r"^\s*(?:\d+[.)]|[-*])\s+\S", opening.split("rerequisite")[0], re.M)
    assert len(items) >= 3, f"{where}: three objectives, as a list, before the prerequisites (found {len(items)})"
    assert re.search(r"prerequisite", opening, re.I), f"{where}: the opening names its prerequisites"
    assert re.search(r"\breading\b", opening, re.I), f"{where}: the opening gives the reading time"
    assert re.search(r"\brun(ning)?[ -]?time\b|\bruns in\b", opening, re.I), f"{where}: the opening gives the run time"
    assert re.search(r"lesson", opening, re.I), f"{where}: the opening names the source-course lessons"
    assert "](glossary.md" in opening, f"{where}: the opening links the [glossary](glossary.md)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_opens_with_objectives_prerequisites_times_lessons_and_glossary(path):
    _check_opening(_opening(path), path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_summary_links_previous_and_next_chapters(path):
    markdown = _markdown(path)
    n = _number(path)
    if n > 0:
        assert re.search(rf"\]\({n - 1:02d}_[\w-]+\.ipynb\)", markdown), f"{path.name}: link the previous chapter"
        previous = re.search(rf"\]\(({n - 1:02d}_[\w-]+\.ipynb)\)", markdown).group(1)
        assert (NOTEBOOK_DIR / previous).exists(), f"{path.name}: the link to {previous} is broken"
    following = sorted(NOTEBOOK_DIR.glob(f"{n + 1:02d}_*.ipynb"))
    coming = re.search(rf"(?:{n + 1:02d}|\bnext\b)[^\n]*\bcoming\b|\bcoming\b[^\n]*{n + 1:02d}", markdown, re.I)
    if following:
        assert f"]({following[0].name})" in markdown, f"{path.name}: link the next chapter, {following[0].name}"
        assert not coming, f"{path.name}: {following[0].name} has landed; it is no longer coming"
    else:
        # no chapter number is written here: the course's last chapter says so, any other marks its next as coming
        final = re.search(r"\b(?:the course's last chapter|end of the course)\b", markdown, re.I)
        assert coming or final, (f"{path.name}: the next chapter does not exist yet; mark it as coming (or say that "
                                 "this is the course's last chapter)")


# Words that belong to the project's making, not to the course: a learner reads findings, not its history.
PROCESS_TRACE = re.compile(r"\bissues?\b|\bcommissioned\b|\bthe probe\b|\btarget was\b|\brewritten\b", re.I)


def _learner_facing_texts(cell: dict) -> list[tuple[str, str]]:
    """What a learner reads in a cell: Markdown; a code cell's comments and its outputs' text."""
    source = "".join(cell["source"])
    if cell["cell_type"] != "code":
        return [("text", source)]
    texts = [("comment", "\n".join(line[line.index("#"):] for line in source.splitlines() if "#" in line))]
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        text = "".join(output.get("text", "")) + "".join(
            "".join(data.get(kind, "")) for kind in ("text/plain", "text/markdown", "text/html"))
        texts.append(("output", text))
    return texts


def process_traces(cells: list[dict]) -> list[str]:
    """Where the project's own words show in what a learner reads: 'cell N (kind): ...word...'."""
    found = []
    for i, cell in enumerate(cells):
        for kind, text in _learner_facing_texts(cell):
            for m in PROCESS_TRACE.finditer(text):
                found.append(f"cell {i} ({kind}): ...{text[max(0, m.start() - 50):m.end() + 20]}...")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS + [TEMPLATE], ids=IDS + ["template"])
def test_no_process_traces_in_what_a_learner_reads(path):
    found = process_traces(_cells(path))
    assert not found, (f"{path.name} speaks of the project's making where a learner reads; say what the course "
                       "found instead:\n" + "\n".join(found))


def test_the_process_trace_scan_can_fail():
    cells = [{"cell_type": "markdown", "source": ["As the issue expected"]},
             {"cell_type": "code", "source": ["x = 1  # the target was 0.9"], "outputs": []},
             {"cell_type": "code", "source": ["print(1)"], "outputs": [{"output_type": "stream", "text": "The probe said"}]},
             {"cell_type": "code", "source": ["tissue = 1  # reissued"], "outputs": []}]
    found = process_traces(cells)
    assert [f.split(":")[0] for f in found] == ["cell 0 (text)", "cell 1 (comment)", "cell 2 (output)"]


@pytest.mark.parametrize("path", NOTEBOOKS + [TEMPLATE], ids=IDS + ["template"])
def test_no_internal_markers_in_learner_facing_text(path):
    for i, cell in enumerate(_cells(path)):
        found = INTERNAL_MARKER.search("".join(cell["source"]))
        assert not found, f"cell {i} carries an internal note {found.group(0)!r}: say it to the learner or drop it"


def _exercise_lines(path: Path) -> list[tuple[int, str]]:
    """The commented lines of exercise cells that call ``ex.``: each must run when uncommented."""
    lines = []
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            stripped = line.strip()
            if stripped.startswith("#") and re.search(r"\bex\.\w", stripped):
                lines.append((i, stripped.lstrip("#").strip()))
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS + [TEMPLATE], ids=IDS + ["template"])
def test_commented_exercise_calls_are_one_valid_call_per_line(path):
    lines = _exercise_lines(path)
    for i, line in lines:
        try:
            tree = ast.parse(line)
        except SyntaxError:
            pytest.fail(f"cell {i}: `# {line}` is not valid Python when uncommented: one call per line")
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr), f"cell {i}: `# {line}`: one call per line"


def test_the_line_check_can_fail(tmp_path):
    bad = tmp_path / "01_bad.ipynb"
    bad.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["ex.q1.check(a)\n",
                                                                          "# ex.q1.hint()    ex.q1.solution()"]}]}))
    line = _exercise_lines(bad)[0][1]
    with pytest.raises(SyntaxError):
        ast.parse(line)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_figures_are_sharp_and_sensibly_sized(path):
    for i, cell in enumerate(_code_cells(path)):
        for out in cell["outputs"]:
            png = out.get("data", {}).get("image/png")
            if not png:
                continue
            data = base64.b64decode(png)
            assert data[:8] == b"\x89PNG\r\n\x1a\n", f"code cell {i}: the stored image is not a PNG"
            width, height = struct.unpack(">II", data[16:24])
            assert PNG_WIDTH[0] <= width <= PNG_WIDTH[1], f"code cell {i}: a figure {width} px wide"
            assert height <= 2 * PNG_WIDTH[1], f"code cell {i}: a figure {height} px tall"
            at = data.find(b"pHYs")
            if at > 0:  # matplotlib records its dpi as pixels per metre
                per_metre, _, unit = struct.unpack(">IIB", data[at + 4: at + 13])
                dpi = round(per_metre * 0.0254) if unit == 1 else None
                assert dpi is None or dpi >= MIN_DPI, \
                    f"code cell {i}: figure drawn at {dpi} dpi; the course style draws at >= {MIN_DPI} (re-execute)"


def test_chapter_template_has_every_section():
    markdown = _markdown(TEMPLATE)
    for heading in ("## The question", "## Setup", "## Claims", "## Summary", "## Exercises", "## Further reading"):
        assert heading in markdown, f"template lacks {heading}"
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in _cells(TEMPLATE)) == 1
    _check_opening(_opening(TEMPLATE), "template")
    assert _exercise_lines(TEMPLATE), "the template shows the exercise cell pattern"
    assert json.loads(TEMPLATE.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"] == KERNEL


GLOSSARY = NOTEBOOK_DIR / "glossary.md"


def test_glossary_is_bilingual_and_fixes_known_mistranslations():
    text = GLOSSARY.read_text(encoding="utf-8")
    rows = [r for r in text.splitlines() if r.startswith("| ") and not r.startswith("| English") and "---" not in r]
    assert len(rows) >= 60
    for row in rows:
        english, chinese = [c.strip() for c in row.strip("|").split("|")[:2]]
        assert english and chinese, f"glossary row lacks a language: {row}"
    terms = {r.strip("|").split("|")[0].strip().lower(): r.strip("|").split("|")[1].strip() for r in rows}
    for term, chinese in {"cold start": "冷启动", "embedding": "嵌入", "recall (candidate generation)": "召回",
                          "lsh (locality-sensitive hashing)": "局部敏感哈希", "ttl (time to live)": "过期时间",
                          "one-standard-error rule": "一倍标准误规则", "tf-idf": "词频-逆文档频率"}.items():
        assert chinese in terms.get(term, ""), f"glossary: {term} should read {chinese}"
    assert "一个标准误" not in text
    assert "过期" not in terms["stale"], "stale is not 过期: TTL is 过期时间"
    for needed in ("serving", "caching", "tag matching", "eges", "item2vec", "consistent hashing", "load balancing",
                   "nmi", "centred cosine", "negative sampling", "pareto front", "slo", "least connections",
                   "fm (factorisation machine)", "item-based cf", "interest profile", "bootstrap", "job, stage, task"):
        assert any(needed in t for t in terms), f"glossary lacks {needed}"
    for term, chinese in {"nmi (normalised mutual information)": "归一化互信息", "centred cosine": "中心化余弦",
                          "negative sampling": "负采样", "pareto front": "帕累托前沿", "least connections": "最少连接",
                          "slo (service-level objective)": "服务等级目标", "fm (factorisation machine)": "因子分解机",
                          "item-based cf (item-to-item)": "物品协同过滤", "interest profile": "兴趣画像",
                          "ground truth": "真实值", "autoscaling": "自动扩缩容"}.items():
        assert chinese in terms.get(term, ""), f"glossary: {term} should read {chinese}"
    for notebook in NOTEBOOKS:  # the chapter list names every chapter, linked
        assert f"({notebook.name})" in text, f"the glossary's chapter list lacks {notebook.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebooks_do_not_mistranslate_glossary_terms(path):
    markdown = _markdown(path)
    assert "一个标准误" not in markdown, "the one-SE rule is 一倍标准误规则"
    # one term per concept, the glossary's
    for other, term in {"弹性伸缩": "自动扩缩容 (autoscaling)", "深度游走": "DeepWalk", "真实标签": "真实值 (ground truth)"}.items():
        assert other not in markdown, f"{path.name} says {other} where the glossary has {term}"
    assert not re.search(r"\bstale\w*\s*[（(]过期[)）]", markdown), "stale is 陈旧; 过期时间 is the TTL"
