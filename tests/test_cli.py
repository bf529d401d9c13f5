"""The command line: token creation, how the daemon accepts tokens, case-study import/export."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from enrichd.api import Authenticator
from enrichd.casestudies import FIELDS
from enrichd.cli import main
from enrichd.config import Config
from enrichd.daemon import Store
from enrichd.daemon._store import DeleteCaseStudy, PutCaseStudy
from enrichd.plugins import CaseStudy


def _config(data: Path, hashes: list[str] | None = None) -> Config:
    return msgspec.convert(
        {"storage": {"path": str(data)}, "auth": {"token_sha256": hashes or []}}, Config
    )


def test_token_create_prints_once_and_stores_only_the_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENRICHD_API_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    data = tmp_path / "data"
    assert main(["token", "create", "crm", "--data-dir", str(data)]) == 0
    token = capsys.readouterr().out.strip()
    assert token
    store = Store(data)
    try:
        tokens = store.tokens()
        assert list(tokens) == [hashlib.sha256(token.encode()).hexdigest()]
        assert tokens[next(iter(tokens))].name == "crm"
        assert token.encode() not in (data / "enrichd.lmdb" / "data.mdb").read_bytes()
        auth = Authenticator(_config(data), store)
        assert auth.check(f"Bearer {token}") == "crm"
        assert auth.check(f"Bearer {token}x") is None
        assert auth.check(f"Basic {token}") is None
    finally:
        store.close()


def test_tokens_from_config_env_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api-token").write_text("from-credential\n")
    monkeypatch.delenv("ENRICHD_API_TOKEN", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    store = Store(tmp_path / "data")
    try:
        digest = hashlib.sha256(b"from-config").hexdigest()
        auth = Authenticator(_config(tmp_path / "data", [digest]), store)
        assert auth.check("Bearer from-config") == "config"
        assert auth.check("Bearer from-credential") == "config"
        monkeypatch.setenv("ENRICHD_API_TOKEN", "from-env")
        auth = Authenticator(_config(tmp_path / "data"), store)
        assert auth.check("Bearer from-env") == "config"
        assert auth.check("Bearer from-credential") is None
        assert auth.check(None) is None
    finally:
        store.close()


def test_plugins_command_lists_the_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "builtin" in out and "m15_displacement_angle" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "--fault-rate", "2"], "fault_rate must be between 0 and 1"),
        (["sandbox", "--latency", "-1"], "latency must be a non-negative"),
        (["sandbox", "--bind", "nowhere"], "--bind: expected HOST:PORT"),
        (["sandbox", "--limit", "similarweb"], "expected UPSTREAM=RATE"),
        (["sandbox", "--limit", "nosuch=1"], "unknown upstream"),
        (["sandbox", "--limit", "similarweb=fast"], "--limit 'similarweb=fast'"),
        (["serve", "--sandbox", "--jitter", "-2"], "jitter must be a non-negative"),
    ],
)
def test_bad_sandbox_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_sandbox_options_from_the_command_line() -> None:
    from enrichd.cli import _sandbox_options, build_parser

    args = build_parser().parse_args(
        ["sandbox", "--latency", "2", "--jitter", "1", "--seed", "7", "--limit", "websearch=1/2"]
    )
    options = _sandbox_options(args, "0.0.0.0:8901")
    assert (options.host, options.port, options.latency, options.jitter) == ("0.0.0.0", 8901, 2, 1)
    assert options.seed == 7
    assert options.limits["websearch"].rate_per_second == 1
    assert options.limits["websearch"].burst == 2


# -- case-studies import / export ---------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "case_studies.csv"


def _studies(data: Path) -> list[CaseStudy]:
    store = Store(data)
    try:
        return store.list_case_studies()
    finally:
        store.close()


def _import(data: Path, *args: str) -> int:
    return main(["case-studies", "import", *args, "--data-dir", str(data)])


def _seed(data: Path, *records: CaseStudy) -> None:
    store = Store(data)
    try:
        store.write_now(PutCaseStudy(r) for r in records)
    finally:
        store.close()


def _study(id: str, customer: str, created_at: float = 1.0) -> CaseStudy:
    return CaseStudy(
        id=id, customer=customer, vertical="retail", created_at=created_at, updated_at=created_at
    )


@pytest.fixture(autouse=True)
def _no_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENRICHD_CONFIG", raising=False)


def test_import_the_sample_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert _import(data, str(SAMPLE)) == 0
    out = capsys.readouterr().out
    studies = _studies(data)
    assert out == f"imported {len(studies)} case studies\n"
    assert len(studies) >= 20
    assert studies[0].created_at > 0 and studies[0].created_at == studies[0].updated_at


def test_import_json_by_extension_and_from_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    doc = tmp_path / "studies.JSON"
    doc.write_text(json.dumps([{"id": "a", "customer": "A", "vertical": "retail"}]))
    assert _import(data, str(doc)) == 0
    stdin = io.TextIOWrapper(io.BytesIO(b"id,customer,vertical\nb,B,media\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert _import(data, "-", "--format", "csv") == 0
    assert capsys.readouterr().out == "imported 1 case studies\nimported 1 case studies\n"
    assert [s.id for s in _studies(data)] == ["a", "b"]


def test_import_upserts_by_id_and_keeps_creation_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _seed(data, _study("a", "Old A"), _study("other", "Other"))
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("id,customer,vertical\na,New A,retail\nc,C,media\n")
    assert _import(data, str(csv_file)) == 0
    studies = {s.id: s for s in _studies(data)}
    assert set(studies) == {"a", "c", "other"}
    assert studies["a"].customer == "New A"
    assert studies["a"].created_at == 1.0 and studies["a"].updated_at > 1.0
    assert studies["c"].created_at > 1.0


def test_import_replace_removes_what_the_file_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _seed(data, _study("a", "Old A"), _study("gone1", "Gone"), _study("gone2", "Gone Too"))
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("id,customer,vertical\na,New A,retail\nc,C,media\n")
    assert _import(data, str(csv_file), "--replace") == 0
    captured = capsys.readouterr()
    assert captured.out == "imported 2 case studies\n"
    assert "removed 2 case studies" in captured.err
    studies = _studies(data)
    assert [s.id for s in studies] == ["c", "a"]  # sorted by customer: "C" < "New A"
    assert studies[1].created_at == 1.0


def test_import_with_bad_rows_prints_every_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _seed(data, _study("keep", "Keep"))
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "id,customer,vertical,url,size_tier\n"
        "ok,Fine,retail,,\n"
        "bad1,,retail,,\n"
        "bad2,Two,retail,not-a-url,giant\n"
        "ok,Dup,retail,,\n"
    )
    assert _import(data, str(csv_file), "--replace") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines == [
        f"{csv_file}: line 3, field customer: is required and must not be blank",
        f"{csv_file}: line 4, field size_tier: must be one of enterprise, mid-market, smb, "
        "startup, got 'giant'",
        f"{csv_file}: line 4, field url: must be an absolute http(s) URL, got 'not-a-url'",
        f"{csv_file}: line 5, field id: duplicate id 'ok' (first at line 2)",
        "enrichd: 4 error(s); nothing was imported",
    ]
    assert [s.id for s in _studies(data)] == ["keep"]


def test_import_json_errors_name_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [{"customer": "A", "vertical": "retail"}, {"customer": "B", "vertical": "", "x": 1}]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(items).encode())))
    assert _import(tmp_path / "data", "-", "--format", "json") == 2
    err = capsys.readouterr().err
    assert "<stdin>: item 1, field x: unknown field" in err
    assert "<stdin>: item 1, field vertical: is required" in err
    assert _studies(tmp_path / "data") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-"], "cannot tell the format of '-'"),
        (["studies.txt"], "cannot tell the format of 'studies.txt'"),
        (["missing.csv"], "cannot read missing.csv"),
    ],
)
def test_import_usage_errors_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies.txt").write_text("customer,vertical\nA,retail\n")
    assert _import(tmp_path / "data", *argv) == 2
    assert message in capsys.readouterr().err
    assert _studies(tmp_path / "data") == []


def test_import_refuses_a_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("customer,vertical\nCaf\xe9,retail\n".encode("latin-1"))
    assert _import(tmp_path / "data", str(bad)) == 2
    assert "cannot read" in capsys.readouterr().err


def test_export_to_stdout_and_to_files_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert _import(data, str(SAMPLE)) == 0
    capsys.readouterr()
    assert main(["case-studies", "export", "--data-dir", str(data)]) == 0
    stdout_csv = capsys.readouterr().out
    assert stdout_csv.splitlines()[0].startswith("id,customer,vertical,")
    json_file = tmp_path / "out.json"
    assert main(["case-studies", "export", str(json_file), "--data-dir", str(data)]) == 0
    assert f"exported {len(_studies(data))} case studies to {json_file}" in capsys.readouterr().err
    csv_file = tmp_path / "out.dat"
    args = ["case-studies", "export", str(csv_file), "--format", "csv", "--data-dir", str(data)]
    assert main(args) == 0
    assert csv_file.read_text(encoding="utf-8") == stdout_csv

    def fields(studies: list[CaseStudy]) -> list[dict[str, Any]]:
        return [{k: getattr(s, k) for k in FIELDS} for s in studies]

    original = fields(_studies(data))
    for source, fmt in ((json_file, "json"), (csv_file, "csv")):
        other = tmp_path / f"copy-{fmt}"
        assert _import(other, str(source), "--format", fmt) == 0
        assert fields(_studies(other)) == original


def test_export_to_an_unknown_extension_needs_a_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.txt"
    assert main(["case-studies", "export", str(target), "--data-dir", str(tmp_path / "d")]) == 2
    assert "pass --format" in capsys.readouterr().err
    assert not target.exists()


def test_import_and_export_while_the_store_is_open_elsewhere(tmp_path: Path) -> None:
    # The daemon keeps its store open; the command runs in another process, as it would.
    data = tmp_path / "data"
    store = Store(data)
    try:
        _ = store.list_case_studies()  # the "daemon" has read before the import
        env = {**os.environ}
        env.pop("ENRICHD_CONFIG", None)
        run = [sys.executable, "-m", "enrichd", "case-studies"]
        done = subprocess.run(
            [*run, "import", str(SAMPLE), "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("imported ")
        studies = store.list_case_studies()
        assert len(studies) >= 20
        store.write_now([DeleteCaseStudy(studies[0].id)])
        exported = subprocess.run(
            [*run, "export", "--format", "json", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert exported.returncode == 0, exported.stderr
        assert [i["id"] for i in json.loads(exported.stdout)] == [s.id for s in studies[1:]]
    finally:
        store.close()


def test_check_reports_a_consistent_store_and_a_broken_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from enrichd.daemon._records import Job
    from enrichd.daemon._store import PutJob

    data = tmp_path / "data"
    store = Store(data)
    try:
        job = Job(
            job_id="enrich_acme_com_1",
            domain="acme.com",
            status="completed",
            priority="normal",
            force=False,
            modules=[],
            waves=[],
            created_at=1.0,
            seq=1,
            module_states={},
        )
        store.write_now([PutJob.of(job)])
    finally:
        store.close()
    assert main(["check", "--data-dir", str(data)]) == 0
    assert "consistent (1 jobs)" in capsys.readouterr().out
    # Remove the job's status-index entry behind the store's back.
    store = Store(data)
    try:
        with store.env.begin(write=True) as txn:
            cursor = txn.cursor(db=store.dbs["jobs_by_status"])
            assert cursor.first()
            cursor.delete()
    finally:
        store.close()
    assert main(["check", "--data-dir", str(data)]) == 1
    captured = capsys.readouterr()
    assert "jobs_by_status lacks the entry of a job" in captured.out
    assert "1 problem(s)" in captured.err
