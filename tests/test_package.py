"""The package as users meet it: one version, a short README, a complete API reference."""

from __future__ import annotations

import configparser
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import coat_tf

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_LINES = 300

#: Every command a user runs, by the module whose ``main`` it is.
COMMANDS = (
    "coat_tf.train",
    "coat_tf.data.__main__",
    "coat_tf.chords.cli",
    "coat_tf.experiments.__main__",
    "coat_tf.recommend",
    "tuning.search",
)
#: Markdown links and pictures: ``[text](target)`` and ``![alt](target)``.
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _main(module: str) -> Callable[[list[str]], int]:
    return importlib.import_module(module).main


@pytest.mark.parametrize("module", COMMANDS)
def test_version_on_every_command(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        _main(module)(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"coat_tf {coat_tf.__version__}"


def test_version_is_written_once() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert setup["metadata"]["version"] == "attr: coat_tf.__version__"
    citation = (ROOT / "CITATION.cff").read_text()
    assert f'version: "{coat_tf.__version__}"' in citation


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_links_only_to_existing_docs_pages() -> None:
    targets = LINK.findall((ROOT / "README.md").read_text())
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links to no docs page"
    for target in local:
        path = target.split("#", 1)[0]
        assert path.startswith("docs/"), f"README links outside docs/: {target}"
        assert (ROOT / path).is_file(), f"README links to a missing page: {target}"


def test_every_docs_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    assert pages
    for page in pages:
        assert page in nav, f"{page} is not in mkdocs.yml's nav"


def _public_modules() -> list[str]:
    modules = []
    for package in ("coat_tf", "tuning"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(part.startswith("_") for part in parts):
                continue
            modules.append(".".join(parts))
    return modules


def test_api_reference_covers_every_public_module() -> None:
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented.update(re.findall(r"^::: (\S+)$", page.read_text(), flags=re.MULTILINE))
    missing = [m for m in _public_modules() if m not in documented]
    assert not missing, f"not in docs/api/: {missing}"


def test_pictures_in_docs_are_shown() -> None:
    text = "".join(p.read_text() for p in DOCS.rglob("*.md"))
    for picture in DOCS.glob("*.png"):
        assert f"]({picture.name})" in text, f"{picture.name} is on no page"
