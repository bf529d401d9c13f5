"""Schemathesis against the served OpenAPI document of a real daemon: every check, fixed seed.

It must find zero 5xx answers and zero schema violations. The daemon runs on the sandbox, so
jobs the fuzzer starts do real (simulated) work without the internet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.test_daemon_process import TOKEN, Daemon

HERE = Path(__file__).resolve().parent
#: Examples per operation and phase: enough to reach every endpoint and status, quick in CI.
MAX_EXAMPLES = 30


def test_schemathesis_finds_no_server_errors_or_schema_violations(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    # The fuzzer is one client sending as fast as it can: lift the per-client rate limit, whose
    # 429s would only hide the answers under test (the limit has its own tests).
    config.write_text('[server]\nrate_limit_per_second = 0\n[logging]\nlevel = "info"\n')
    daemon = Daemon(config, tmp_path / "data", "--sandbox")
    daemon.start()
    try:
        schema = f"{daemon.url}/api/v1/openapi.json"
        assert httpx.get(schema, trust_env=False).json()["openapi"] == "3.1.0"
        cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        assert cli is not None, "schemathesis is a test dependency: pip install -e '.[test]'"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENRICHD_")}
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp_path / "hypothesis")
        result = subprocess.run(
            [
                cli,
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                schema,
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--checks",
                "all",
                "--seed",
                "1",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert "passed" in result.stdout
    finally:
        daemon.stop(kill=True)
