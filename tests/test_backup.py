"""``enrichd backup PATH``: a consistent, compacted copy of the store, safe while it is written.

LMDB forbids opening one environment twice in a process, so the concurrent writer (standing in
for the running daemon) is a separate process, as the daemon is in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enrichd.cli import main
from enrichd.daemon import SCHEMA_VERSION, Store
from enrichd.daemon._store import DeleteAllCaseStudies, PutCache, PutCaseStudy, backup
from tests.daemon.test_store import make_cache, make_case_study

REPO = Path(__file__).resolve().parents[1]

#: Writes transaction after transaction until the stop file appears. Each transaction stores two
#: cache entries for one new domain: a consistent copy holds both or neither, and its domains
#: are exactly d0..d(n-1) because transactions commit in order.
WRITER = """
import sys
from pathlib import Path
from enrichd.daemon._store import PutCache, Store
from tests.daemon.test_store import make_cache

store = Store(sys.argv[1])
stop = Path(sys.argv[2])
i = 0
while not stop.exists():
    store.write_now(
        [
            PutCache.of(make_cache(f"d{i}.com", "m01_a", size=3000)),
            PutCache.of(make_cache(f"d{i}.com", "m02_b", size=3000)),
        ]
    )
    i += 1
    if i == 20:
        print("ready", flush=True)
store.close()
print(i, flush=True)
"""


def _domains(store: Store) -> dict[int, set[str]]:
    """Cache entries by domain number: ``d7.com`` -> 7."""
    found: dict[int, set[str]] = {}
    with store.env.begin(db=store.dbs["cache"]) as txn:
        for key in txn.cursor().iternext(values=False):
            domain, _, module = bytes(key).decode().partition("\0")
            found.setdefault(int(domain[1:].removesuffix(".com")), set()).add(module)
    return found


def test_backup_while_another_process_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Store(data).close()
    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        targets = [tmp_path / f"backup{i}" for i in range(3)]
        for target in targets:
            assert main(["backup", str(target), "--data-dir", str(data)]) == 0
            time.sleep(0.05)
        stop.touch()
        written = int(writer.stdout.read().split()[-1])
        assert writer.wait(timeout=30) == 0

    out = capsys.readouterr().out
    assert out.count("compacted") == 3
    assert str(targets[0] / "enrichd.lmdb" / "data.mdb") in out

    counts = []
    for target in targets:
        # The backup is itself a data directory: it opens like the original.
        copy = Store(target)
        try:
            with copy.env.begin(db=copy.dbs["meta"]) as txn:
                assert txn.get(b"schema_version") == str(SCHEMA_VERSION).encode()
            found = _domains(copy)
            n = len(found)
            assert set(found) == set(range(n)), "a transaction is missing from the copy"
            assert all(mods == {"m01_a", "m02_b"} for mods in found.values()), "torn transaction"
            entry = copy.get_cache(f"d{n - 1}.com", "m02_b")
            assert entry is not None and entry.data["blob"] == "x" * 3000
            counts.append(n)
        finally:
            copy.close()
    # Each copy is a snapshot of its moment: later copies hold more, the source holds the most.
    assert 20 <= counts[0] <= counts[1] <= counts[2] <= written
    live = Store(data)
    try:
        assert len(_domains(live)) == written
    finally:
        live.close()


def test_backup_is_compacted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data)
    try:
        store.write_now(
            PutCaseStudy(make_case_study(f"c{i}", f"Customer {i}", quote="q" * 4000))
            for i in range(300)
        )
        store.write_now([DeleteAllCaseStudies()])
        store.write_now([PutCache.of(make_cache("kept.com", "m01_a"))])
    finally:
        store.close()
    result = backup(data, tmp_path / "backup")
    source_size = (data / "enrichd.lmdb" / "data.mdb").stat().st_size
    # The deleted case studies' pages are free in the source; the copy leaves them out.
    assert result.size < source_size / 10, (result.size, source_size)
    assert result.data_file == tmp_path / "backup" / "enrichd.lmdb" / "data.mdb"
    assert result.entries["case_studies"] == 0 and result.entries["cache"] == 1
    # The check opened the copy without a lock file: the backup is just the data file.
    assert sorted(p.name for p in result.data_file.parent.iterdir()) == ["data.mdb"]
    copy = Store(tmp_path / "backup")
    try:
        assert copy.get_cache("kept.com", "m01_a") == make_cache("kept.com", "m01_a")
    finally:
        copy.close()


def test_backup_into_an_existing_empty_directory(tmp_path: Path) -> None:
    Store(tmp_path / "data").close()
    (tmp_path / "empty").mkdir()
    assert main(["backup", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "data")]) == 0
    assert (tmp_path / "empty" / "enrichd.lmdb" / "data.mdb").is_file()


def test_backup_refuses_a_non_empty_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store(tmp_path / "data").close()
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    assert main(["backup", str(target), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and str(target) in err
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert (target / "keep.txt").read_text() == "precious"

    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["backup", str(a_file), "--data-dir", str(tmp_path / "data")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_backup_of_a_missing_store_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "backup"
    assert main(["backup", str(target), "--data-dir", str(tmp_path / "nothing")]) == 2
    assert "no enrichd store" in capsys.readouterr().err
    assert not target.exists()
    assert not (tmp_path / "nothing").exists()  # a backup never creates a store
