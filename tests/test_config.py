"""Tests for configuration decoding, value checks, durations and secrets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from enrichd.config import (
    DEFAULT_BIND,
    DEFAULT_DATA_DIR,
    Config,
    ConfigError,
    SourceSettings,
    load_config,
    parse_config,
    parse_duration,
    read_secret,
    split_source_table,
)

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def test_empty_document_gives_defaults() -> None:
    config = parse_config("")
    assert config == Config()
    assert config.server.bind == DEFAULT_BIND == "127.0.0.1:8080"
    assert config.storage.path == DEFAULT_DATA_DIR
    assert config.storage.map_size_mb == 256
    assert config.auth.token_sha256 == []
    assert config.jobs.max_concurrent_jobs == 10
    assert config.jobs.max_batch_domains == 1000
    assert config.logging.level == "info"
    assert config.plugins.disable == [] and config.plugins.modules == []
    assert config.sources == {} and config.modules == {}
    assert config.intel.seller_product == "Algolia"
    assert config.intel.icp.tiers.hot == 80


def test_values_are_read() -> None:
    digest = hashlib.sha256(b"secret").hexdigest()
    config = parse_config(
        f"""
        [server]
        bind = "0.0.0.0:9000"
        [auth]
        token_sha256 = ["{digest}"]
        [jobs]
        max_concurrent_jobs = 3
        [cache.ttl]
        m03_traffic = "3d"
        [plugins]
        disable = ["builtin"]
        [sources.similarweb]
        api_key = "k"
        rate_per_second = 2.5
        [modules.m13_case_study_match]
        top = 3
        [intel]
        seller_product = "Acme Search"
        [intel.icp.tiers]
        hot = 90
        """
    )
    assert config.server.bind == "0.0.0.0:9000"
    assert config.auth.token_sha256 == [digest]
    assert config.jobs.max_concurrent_jobs == 3
    assert config.cache.ttl == {"m03_traffic": "3d"}
    assert config.plugins.disable == ["builtin"]
    assert config.sources == {"similarweb": {"api_key": "k", "rate_per_second": 2.5}}
    assert config.modules == {"m13_case_study_match": {"top": 3}}
    assert config.intel.seller_product == "Acme Search"
    assert config.intel.icp.tiers.hot == 90
    assert config.intel.icp.tiers.warm == 60


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[intel]\nseller = 'x'", "unknown key 'intel.seller'"),
        ("[intel.icp.tiers]\nhot = 50", "tiers must decrease"),
        ("[intel.icp]\nvisit_bands = [{min = 1, points = 5}, {min = 9, points = 9}]", "ordered"),
        ("[intel.icp.vertical_points]\nretail = 'lots'", "intel.icp.vertical_points"),
        ("[[intel.icp.spend_bands]]\nmin = 1\npoints = 500", "intel.icp.spend_bands"),
    ],
)
def test_intel_mistakes_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(toml)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 1", "'colour'"),
        ('[server]\nbnd = "127.0.0.1:1"', "'server.bnd'"),
        ("[jobs]\nmax_concurent_jobs = 2", "'jobs.max_concurent_jobs'"),
        ("[cache]\nttls = {}", "'cache.ttls'"),
        ("[serve]\nbind = 'x'", "'serve'"),
    ],
)
def test_unknown_key_is_named(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown key {key}"):
        parse_config(text, origin="/etc/enrichd/config.toml")
    with pytest.raises(ConfigError, match=r"^/etc/enrichd/config\.toml: "):
        parse_config(text, origin="/etc/enrichd/config.toml")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[server]\nbind = 8080", "server.bind"),
        ('[jobs]\nmax_concurrent_jobs = "ten"', "jobs.max_concurrent_jobs"),
        ('[auth]\ntoken_sha256 = "abc"', "auth.token_sha256"),
        ("[auth]\ntoken_sha256 = [1]", r"auth.token_sha256\[0\]"),
        ('[logging]\nlevel = "loud"', "logging.level"),
        ('server = "x"', "server"),
        # msgspec shows a table's key as "[...]"; the message must still name it.
        ('[cache.ttl]\nm01_company_context = "30d"\nm03_traffic = 1.5', "cache.ttl.m03_traffic"),
        ("[sources]\nsimilarweb = 1", "sources.similarweb"),
        (
            '[sources.llm]\nmodel = "x"\n[modules]\nm13_case_study_match = [1]',
            "modules.m13_case_study_match",
        ),
    ],
)
def test_wrong_type_names_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^config.toml: {key}: "):
        parse_config(text)


def test_invalid_toml() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[server\nbind = ")


@pytest.mark.parametrize("bind", ["[::1]:8080", "localhost:0", "0.0.0.0:65535"])
def test_good_bind(bind: str) -> None:
    assert parse_config(f'[server]\nbind = "{bind}"').server.bind == bind


@pytest.mark.parametrize("bind", ["localhost", ":8080", "host:", "host:http", "host:65536", ""])
def test_bad_bind(bind: str) -> None:
    with pytest.raises(ConfigError, match=r"server\.bind: expected HOST:PORT"):
        parse_config(f'[server]\nbind = "{bind}"')


@pytest.mark.parametrize(
    "text",
    [
        "[server]\nmax_body_bytes = 0",
        "[storage]\nmap_size_mb = -1",
        "[jobs]\nmax_concurrent_jobs = 0",
        "[jobs]\nmodule_timeout_seconds = 0.0",
        "[jobs]\nidempotency_ttl_seconds = -5",
    ],
)
def test_non_positive_limits_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        parse_config(text)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3600, 3600),
        ("3600", 3600),
        ("90s", 90),
        ("15m", 900),
        ("12h", 43200),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        ("1.5h", 5400),
        (" 30d ", 30 * 86400),
    ],
)
def test_durations(value: str | int, seconds: int) -> None:
    assert parse_duration(value, key="cache.ttl.m01") == seconds


@pytest.mark.parametrize(
    "value", ["7x", "d", "", "-5", "7 days", "7D", "1h30m", 0, -60, "0s", True]
)
def test_bad_durations(value: str | int) -> None:
    with pytest.raises(ConfigError, match=r"^cache\.ttl\.m01: "):
        parse_duration(value, key="cache.ttl.m01")


def test_durations_are_checked_in_cache_tables() -> None:
    config = parse_config('[cache.ttl]\nm01_company_context = "30d"\nm07_financials = 3600')
    assert config.cache.ttl == {"m01_company_context": "30d", "m07_financials": 3600}
    with pytest.raises(ConfigError, match=r"cache\.ttl\.m07_financials: .*'soon'"):
        parse_config('[cache.ttl]\nm07_financials = "soon"')
    with pytest.raises(ConfigError, match=r"cache\.stale_window\.m02_tech_stack: .*positive"):
        parse_config("[cache.stale_window]\nm02_tech_stack = 0")


def test_token_sha256_format() -> None:
    good = hashlib.sha256(b"t").hexdigest()
    assert parse_config(f'[auth]\ntoken_sha256 = ["{good}"]').auth.token_sha256 == [good]
    for bad in (good.upper(), good[:-1], good + "0", "g" * 64, "secret-token"):
        with pytest.raises(ConfigError, match=r"auth\.token_sha256: .*64 lowercase hex digits"):
            parse_config(f'[auth]\ntoken_sha256 = ["{good}", "{bad}"]')


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "enrichd.toml"
    path.write_text('[server]\nbind = "127.0.0.1:0"\n')
    assert load_config(path).server.bind == "127.0.0.1:0"
    assert load_config(str(path)).server.bind == "127.0.0.1:0"


def test_load_config_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "enrichd.toml"
    path.write_text("[server]\nbnd = 1\n")
    with pytest.raises(ConfigError, match=rf"^{path}: unknown key 'server.bnd'"):
        load_config(path)


def test_load_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "cannot read configuration" in message
    assert str(path) in message
    assert "No such file or directory" in message


def test_load_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.toml"
    path.write_text("[jobs]\nmax_concurrent_jobs = 4\n")
    monkeypatch.setenv("ENRICHD_CONFIG", str(path))
    assert load_config(None).jobs.max_concurrent_jobs == 4
    monkeypatch.delenv("ENRICHD_CONFIG")
    assert load_config(None) == Config()


@pytest.mark.skipif(not REPO_CONFIG.exists(), reason="the repository has no config.toml yet")
def test_repository_config_toml_parses() -> None:
    config = load_config(REPO_CONFIG)
    # It documents the defaults, so every common source key in it must validate too.
    for name, table in config.sources.items():
        split_source_table(name, table)


# -- secrets ---------------------------------------------------------------------------------------


def test_read_secret_prefers_the_configured_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHD_X_API_KEY", "from-env")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY", "from-config") == "from-config"


def test_read_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x-api-key").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("ENRICHD_X_API_KEY", "  from-env\n")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") == "from-env"


def test_read_secret_from_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENRICHD_X_API_KEY", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "x-api-key").write_text("from-credential\n")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") == "from-credential"
    # An empty environment variable does not hide the credential.
    monkeypatch.setenv("ENRICHD_X_API_KEY", "")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") == "from-credential"
    monkeypatch.setenv("ENRICHD_X_API_KEY", "  \n")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") == "from-credential"


def test_read_secret_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENRICHD_X_API_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") is None
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") is None  # no such file
    (tmp_path / "x-api-key").write_text("\n")
    assert read_secret("x-api-key", "ENRICHD_X_API_KEY") is None  # empty file


# -- source tables ---------------------------------------------------------------------------------


def test_split_source_table() -> None:
    settings, rest = split_source_table(
        "websearch",
        {"api_key": "k", "burst": 3, "enabled": False, "provider": "brave", "country": "us"},
    )
    assert settings == SourceSettings(api_key="k", burst=3, enabled=False)
    assert rest == {"provider": "brave", "country": "us"}
    settings, rest = split_source_table("homepage", {})
    assert settings == SourceSettings()
    assert rest == {}


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        ({"burst": "ten"}, r"^sources\.x\.burst: Expected `int \| null`, got `str`"),
        ({"enabled": "yes"}, r"^sources\.x\.enabled: "),
        ({"rate_per_second": 0}, r"^sources\.x\.rate_per_second: must be positive"),
        ({"burst": 0}, r"^sources\.x\.burst: must be positive"),
        ({"max_concurrency": -1}, r"^sources\.x\.max_concurrency: must be positive"),
        ({"timeout_seconds": 0.0}, r"^sources\.x\.timeout_seconds: must be positive"),
        ({"daily_quota": -1}, r"^sources\.x\.daily_quota: must not be negative"),
        ({"max_retries": -1}, r"^sources\.x\.max_retries: must not be negative"),
    ],
)
def test_split_source_table_validates(table: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        split_source_table("x", table)


def test_split_source_table_allows_zero_retries_and_quota() -> None:
    settings, _ = split_source_table("x", {"max_retries": 0, "daily_quota": 0})
    assert settings.max_retries == 0 and settings.daily_quota == 0


def test_documented_intel_defaults_are_the_real_defaults() -> None:
    """Uncommenting the [intel] section of config.toml must change nothing."""
    from enrichd.intel import IntelConfig

    text = (Path(__file__).resolve().parents[1] / "config.toml").read_text()
    start = text.index("\n[intel]\n")
    lines = []
    for line in text[start:].splitlines():
        if line.startswith("# ") and not line.startswith(
            ("# (also", "#  Bloom", "# m1", "# [intel] ")
        ):
            lines.append(line[2:])
        elif not line.startswith("#"):
            lines.append(line)
    documented = parse_config("\n".join(lines)).intel
    defaults = IntelConfig()
    for field in ("seller_product", "competitors", "partners", "use_llm", "icp", "case_studies"):
        if field == "case_studies":
            # The documented use_case_by_vertical table is an excerpt.
            assert (
                documented.case_studies.related_verticals == defaults.case_studies.related_verticals
            )
            continue
        assert getattr(documented, field) == getattr(defaults, field), field
    assert documented.default_incumbent == defaults.default_incumbent
    for name, profile in documented.incumbents.items():
        assert defaults.incumbents[name] == profile, name
