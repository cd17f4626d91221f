"""The course links to its sources: well-formed links in sparrow_course.sources and in every chapter's Further reading.

No network: a link is checked for its form (a DOI, an arXiv id, a SparrowRecSys file at a
40-digit commit, or a file of this repository that exists), not fetched.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sparrow_course import sources

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

DOI = re.compile(r"^https://doi\.org/10\.\d{4,9}/\S+$")
ARXIV = re.compile(r"^https://arxiv\.org/abs/\d{4}\.\d{4,5}$")
GITHUB_PINNED = re.compile(r"^https://github\.com/wzhe06/SparrowRecSys/blob/[0-9a-f]{40}/\S+\.(?:scala|java|py)$")
OTHER_HTTPS = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(?:/\S*)?$")
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")


def link_problem(url: str, base: Path) -> str | None:
    """Why ``url`` is not a well-formed link (None when it is); relative links must name a file that exists."""
    if url.startswith("http://"):
        return "uses http, not https"
    if url.startswith("https://doi.org/"):
        return None if DOI.match(url) else "is not a DOI of the form https://doi.org/10.NNNN/..."
    if url.startswith("https://arxiv.org/"):
        return None if ARXIV.match(url) else "is not an arXiv abstract link https://arxiv.org/abs/NNNN.NNNNN"
    if url.startswith("https://github.com/wzhe06/SparrowRecSys/"):
        return None if GITHUB_PINNED.match(url) else "is not a SparrowRecSys file at a pinned 40-digit commit"
    if url.startswith("https://"):
        return None if OTHER_HTTPS.match(url) else "is not a well-formed https address"
    target = (base / url.split("#")[0]).resolve()
    return None if target.exists() else f"names {url}, which does not exist in the repository"


def further_reading(path: Path) -> str:
    """The Markdown of a notebook's Further reading section (empty if it has none)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and re.search(r"^#+ Further reading\s*$", text, re.M):
            return text.split("Further reading", 1)[1]
    return ""


def entries(section: str) -> list[str]:
    """The list entries of a section, continuation lines joined."""
    out: list[str] = []
    for line in section.splitlines():
        if line.startswith("- "):
            out.append(line[2:])
        elif line.startswith("  ") and out:
            out[-1] += " " + line.strip()
        elif line.startswith("#"):
            break
    return out


def test_every_link_in_sources_is_well_formed():
    for name, paper in sources.PAPERS.items():
        assert link_problem(paper.url, ROOT) is None, (name, paper.url, link_problem(paper.url, ROOT))
    for name in sources.SPARROWRECSYS_FILES:
        url = sources.sparrowrecsys(name)
        assert link_problem(url, ROOT) is None, (name, url)
        assert url.endswith(name)


def test_link_check_can_fail():
    assert link_problem("http://arxiv.org/abs/1803.02349", ROOT)
    assert link_problem("https://arxiv.org/abs/EGES", ROOT)
    assert link_problem("https://doi.org/KDD2018", ROOT)
    assert link_problem("https://github.com/wzhe06/SparrowRecSys/blob/master/Embedding.scala", ROOT)
    assert link_problem("../no/such/file.md", ROOT / "notebooks")
    assert link_problem("../data/README.md", ROOT / "notebooks") is None
    assert entries("\n- a [x](https://arxiv.org/abs/1803.02349)\n  more\n- b\n## Next\n- c") == [
        "a [x](https://arxiv.org/abs/1803.02349) more", "b"]


def test_further_reading_helper_writes_linked_entries():
    text = sources.further_reading("EGES", "DeepWalk", code=("Embedding.scala",))
    found = entries("\n" + text)
    assert len(found) == 4
    for entry in found:
        urls = [a or b for a, b in LINK.findall(entry)]
        assert urls and all(link_problem(u, ROOT) is None for u in urls), entry
    with pytest.raises(ValueError, match=r"unknown paper"):
        sources.further_reading("GES")
    with pytest.raises(ValueError, match=r"unknown SparrowRecSys file"):
        sources.sparrowrecsys("Main.java")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_further_reading_entry_has_a_well_formed_link(path):
    section = further_reading(path)
    assert section, f"{path.name} has no '## Further reading' section"
    found = entries(section)
    assert found, f"{path.name}: its Further reading section lists nothing"
    for entry in found:
        urls = [a or b for a, b in LINK.findall(entry)]
        assert urls, f"{path.name}: this Further reading entry has no link: {entry[:100]!r}"
        for url in urls:
            problem = link_problem(url, path.parent)
            assert problem is None, f"{path.name}: link {url} {problem}"
    assert re.search(GITHUB_PINNED.pattern.strip("^$").replace(r"\S+\.", r"\S+?\."), section), (
        f"{path.name}: Further reading links no SparrowRecSys file at a pinned commit (sources.sparrowrecsys)")
    assert re.search(r"深度学习推荐系统实战|Deep Learning Recommender Systems in Practice", section), (
        f"{path.name}: Further reading does not name the course it accompanies (sources.COURSE)")
