"""Schemathesis fuzzes every operation of the published OpenAPI document: no 500, ever, and
every answer matches the document (status codes, content types, response schemas)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import ADMIN_KEY


def test_no_request_the_document_allows_gets_a_server_error_or_an_undocumented_answer(server, tmp_path):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis), "run", f"{server.base_url}/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        "response_schema_conformance,negative_data_rejection,unsupported_method",
            "--phases", "coverage,fuzzing",
            "--max-examples", "30",
            "--seed", "1",
            "--request-timeout", "10",
            # Long-polling reads wait up to 60 s by design; they have tests of their own.
            "--exclude-path", "/api/flows/{flow_id}",
            "--exclude-path-regex", r"/(ws|sse)$",
            "-H", f"Authorization: Bearer {ADMIN_KEY}",
        ],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
