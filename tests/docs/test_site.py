"""The documentation site builds with strict link checking, and the README stays the way in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_site_builds_with_strict_link_checking(tmp_path):
    # --strict: a link to a missing page or anchor, a page left out of the nav, or a snippet
    # whose file is missing fails the build.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    # The included files arrived: deploy/README.md and the clients' READMEs.
    assert "A standby that takes over" in (site / "operations" / "deploy.html").read_text()
    assert "verify_webhook" in (site / "clients" / "python-usage.html").read_text()
    assert "verifyWebhook" in (site / "clients" / "javascript-usage.html").read_text()


def _nav_pages(nav) -> list[str]:
    pages: list[str] = []
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix)


def test_every_markdown_page_is_in_the_nav():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    in_nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert pages - in_nav == set()
    for page in ("security.md", "configuration.md", "oidc.md", "concepts/machine.md", "decisions.md",
                 "clients/python-usage.md", "clients/javascript-usage.md", "operations/backups.md"):
        assert page in in_nav, page


def test_the_security_model_keeps_its_heading():
    assert (ROOT / "docs" / "security.md").read_text().startswith("# Security model\n")


def test_the_readme_is_short_with_a_table_of_contents_and_no_measurement_tables():
    lines = README.splitlines()
    assert len(lines) < 300, len(lines)
    assert "**Contents**" in README
    # every entry of the table of contents leads to a heading of the README
    anchors = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^#{2,3} (.+)$", README, re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", README):
        assert target in anchors, target
    assert not re.search(r"\|\s*(NO|yes)\s*\|", README), "measurement verdicts belong in docs/performance.md"
    assert "web/signin.js" not in README


def test_the_readme_links_only_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), target
