"""The README's tour through the API, run as written: its marked shell blocks, pasted into one
bash, against a real server started the way scripts/serve starts it (keys generated into
./.mfa-flow of the folder the commands run in)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.server import ADMIN_KEY, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
ADDRESS_LINE = "MFA=http://localhost:8080\n"


def tour_script() -> str:
    """The blocks between the README's api-tour markers, in order, as one script."""
    readme = (ROOT / "README.md").read_text()
    part = re.search(r"<!-- api-tour:begin.*?-->(.*?)<!-- api-tour:end -->", readme, re.S)
    assert part is not None, "the README has no marked API tour"
    blocks = re.findall(r"^```sh\n(.*?)^```$", part.group(1), re.S | re.M)
    assert len(blocks) >= 5
    script = "".join(blocks)
    assert script.startswith(ADDRESS_LINE), "the tour starts by saying where the service is"
    return script


def test_the_tour_needs_nothing_it_does_not_say():
    script = tour_script()
    for word in ("<", "...", "TODO"):  # no placeholder for the reader to fill in
        assert word not in script.replace("<<<", ""), word
    assert "oathtool --totp" in script and "acknowledge_backup_codes" in script


@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("curl", "jq", "oathtool")),
                    reason="the tour needs curl, jq and oathtool (scripts/setup --test installs them)")
async def test_the_readme_api_tour_reaches_done(fresh_database, tmp_path):
    folder = tmp_path / "checkout"  # where a reader runs scripts/serve and pastes the tour
    folder.mkdir()
    process = ServerProcess(fresh_database)
    for name in ("MFA_FLOW_ADMIN_KEY", "MFA_FLOW_AUDITOR_KEY", "MFA_FLOW_DATA_DIR"):
        process.env.pop(name)  # as on a fresh clone: the first start generates them into ./.mfa-flow
    process.cwd = folder
    await asyncio.to_thread(process.start)
    try:
        # The one change: the port the test's server listens on, in the tour's first line.
        script = tour_script().replace(ADDRESS_LINE, f"MFA=http://localhost:{process.port}\n", 1)
        started = time.monotonic()
        result = await asyncio.to_thread(
            subprocess.run, ["bash", "-e", "-o", "pipefail", "-c", script + '\necho "TOUR_FLOW=$ID"\n'],
            cwd=folder, capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith(("MFA_FLOW_", "DATABASE_URL"))},
        )
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert '"state": "totp_setup"' in out and '"state": "backup_codes"' in out and '"state": "done"' in out, out
        assert "acknowledge_backup_codes: backup_codes -> done" in out, out
        flow_id = re.search(r"^TOUR_FLOW=(\S+)$", out, re.M).group(1)
        admin_key = (folder / ".mfa-flow" / "admin.key").read_text().strip()
        assert admin_key != ADMIN_KEY
        flow = subprocess.run(["curl", "-sf", f"{process.base_url}/api/flows/{flow_id}", "-H",
                               f"Authorization: Bearer {admin_key}"], capture_output=True, text=True, check=True)
        assert '"state":"done"' in flow.stdout.replace(" ", ""), flow.stdout
        print(f"the README's API tour took {took:.1f} s")
    finally:
        await asyncio.to_thread(process.stop)
