"""Tests for plugin loading and the validated registry of sources and modules."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from enrichd.api import Authenticator, create_app
from enrichd.cli import main
from enrichd.config import ConfigError, parse_config
from enrichd.daemon import JobRequest
from enrichd.plugins import (
    PLUGIN_API_VERSION,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    PluginConfigError,
    Registry,
    SourceSpec,
    all_dependencies,
    hookimpl,
    load_plugins,
    module_options,
)
from enrichd.testing import ModuleTestContext
from tests.conftest import wait_for_status

DAY = 86400


async def _run(ctx: ModuleContext) -> ModuleResult:
    return ModuleResult(data={}, data_points=0)


def mod(mid: str, wave: int = 1, *deps: str, ttl_days: int = 7) -> ModuleSpec:
    """A module spec with a no-op ``run``."""
    return ModuleSpec(
        id=mid,
        wave=wave,
        description=f"test {mid}",
        run=_run,
        depends_on=deps,
        ttl_seconds=ttl_days * DAY,
    )


def src(name: str) -> SourceSpec:
    """A keyless source spec."""
    return SourceSpec(name=name, requires_api_key=False, base_url="http://127.0.0.1:9")


class Plugin:
    """A plugin object whose hooks return what it was built with."""

    def __init__(
        self,
        modules: Sequence[ModuleSpec] = (),
        sources: Sequence[SourceSpec] = (),
        *,
        version: int = PLUGIN_API_VERSION,
    ) -> None:
        self._modules = list(modules)
        self._sources = list(sources)
        self._version = version

    @hookimpl
    def enrichd_plugin_api_version(self) -> int:
        return self._version

    @hookimpl
    def enrichd_sources(self) -> list[SourceSpec]:
        return self._sources

    @hookimpl
    def enrichd_modules(self) -> list[ModuleSpec]:
        return self._modules


class BrokenPlugin:
    """A plugin whose module hook raises, as a buggy third-party plugin might."""

    @hookimpl
    def enrichd_sources(self) -> list[SourceSpec]:
        return [src("broken_source")]

    @hookimpl
    def enrichd_modules(self) -> list[ModuleSpec]:
        raise RuntimeError("the plugin's own bug")


class WrongTypePlugin:
    """A plugin whose hook returns something that is not a ModuleSpec."""

    @hookimpl
    def enrichd_modules(self) -> list[Any]:
        return [{"id": "m20_dict"}]


def load(*objects: tuple[str, Any], **kwargs: Any) -> Registry:
    """Load only the given plugin objects (every installed entry point disabled)."""
    return load_plugins(disable=["*"], extra_objects=list(objects), **kwargs)


#: Every installed entry point but the built-in plugin (the example plugin, when installed).
OTHER_ENTRY_POINTS = [
    ep.name for ep in importlib.metadata.entry_points(group="enrichd") if ep.name != "builtin"
]


def load_with_builtin(*objects: tuple[str, Any]) -> Registry:
    """The built-in plugin and the given plugin objects, nothing else that is installed."""
    return load_plugins(disable=OTHER_ENTRY_POINTS, extra_objects=list(objects))


def _info(registry: Registry, name: str) -> Any:
    [info] = [p for p in registry.plugins if p.name == name]
    return info


# -- loading ---------------------------------------------------------------------------------------


def test_plugins_load_and_merge() -> None:
    reg = load(
        ("one", Plugin([mod("m16_alpha"), mod("one.beta", 2, "m16_alpha")], [src("s1")])),
        ("two", Plugin([mod("two.gamma", 3, "one.beta")], [src("s2"), src("s3")])),
    )
    assert list(reg.modules) == ["m16_alpha", "one.beta", "two.gamma"]
    assert set(reg.sources) == {"s1", "s2", "s3"}
    one = _info(reg, "one")
    assert one.status == "loaded" and one.error is None
    assert one.modules == ["m16_alpha", "one.beta"] and one.sources == ["s1"]
    assert _info(reg, "two").sources == ["s2", "s3"]
    builtin = _info(reg, "builtin")
    assert builtin.status == "disabled"
    assert builtin.origin == "enrichd.plugins.builtin"


def test_disabling_every_entry_point_leaves_nothing() -> None:
    reg = load()
    assert reg.modules == {} and reg.sources == {}
    assert {p.status for p in reg.plugins} == {"disabled"}
    assert "builtin" in [p.name for p in reg.plugins]


def test_disabling_the_builtin_by_name() -> None:
    reg = load_plugins(disable=["builtin", *OTHER_ENTRY_POINTS])
    assert reg.modules == {}
    assert _info(reg, "builtin").status == "disabled"


def test_a_plugin_module_by_dotted_path() -> None:
    reg = load(extra_modules=["tests.fakeplugin"])
    info = _info(reg, "tests.fakeplugin")
    assert info.status == "loaded"
    assert len(reg.modules) == 15 and list(reg.sources) == ["fake"]


def test_a_plugin_whose_hook_raises_is_skipped() -> None:
    reg = load(("broken", BrokenPlugin()), ("good", Plugin([mod("m16_ok")], [src("s1")])))
    broken = _info(reg, "broken")
    assert broken.status == "failed"
    assert broken.error == "RuntimeError: the plugin's own bug"
    assert broken.modules == [] and broken.sources == []
    # Nothing of the broken plugin got in, not even the sources its other hook returned.
    assert "broken_source" not in reg.sources
    assert _info(reg, "good").status == "loaded"
    assert list(reg.modules) == ["m16_ok"] and list(reg.sources) == ["s1"]


def test_a_plugin_module_that_fails_to_import_is_skipped() -> None:
    reg = load(("good", Plugin([mod("m16_ok")])), extra_modules=["tests.no_such_module"])
    failed = _info(reg, "tests.no_such_module")
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("ModuleNotFoundError")
    assert "tests.no_such_module" in failed.error
    assert list(reg.modules) == ["m16_ok"]


def test_a_hook_returning_the_wrong_type_is_skipped() -> None:
    reg = load(("wrong", WrongTypePlugin()), ("good", Plugin([mod("m16_ok")])))
    wrong = _info(reg, "wrong")
    assert wrong.status == "failed"
    assert "expected ModuleSpec" in (wrong.error or "")
    assert list(reg.modules) == ["m16_ok"]


def test_plugin_api_version_mismatch() -> None:
    future = PLUGIN_API_VERSION + 1
    # A plugin for another API version is reported and skipped; the others still load.
    reg = load(("ok", Plugin([mod("m16_a")])), ("future", Plugin([mod("m17_b")], version=future)))
    assert list(reg.modules) == ["m16_a"]
    (failed,) = [p for p in reg.plugins if p.name == "future"]
    assert failed.status == "failed"
    message = failed.error or ""
    assert "'future'" in message
    assert f"plugin API version {future}" in message
    assert f"provides version {PLUGIN_API_VERSION}" in message


# -- contradictions between plugins ----------------------------------------------------------------


def test_duplicate_module_id_names_both_plugins() -> None:
    with pytest.raises(
        PluginConfigError, match="module 'm16_same' is provided by both 'first' and 'second'"
    ):
        load(("first", Plugin([mod("m16_same")])), ("second", Plugin([mod("m16_same", 2)])))


def test_duplicate_module_id_against_the_builtin() -> None:
    with pytest.raises(PluginConfigError, match=r"'m01_company_context' .* 'builtin' and 'mine'"):
        load_with_builtin(("mine", Plugin([mod("m01_company_context")])))


def test_duplicate_source_names_both_plugins() -> None:
    with pytest.raises(
        PluginConfigError, match="source 'shared' is provided by both 'first' and 'second'"
    ):
        load(
            ("first", Plugin(sources=[src("shared")])), ("second", Plugin(sources=[src("shared")]))
        )


def test_dependency_cycle_is_named() -> None:
    with pytest.raises(PluginConfigError, match="cycle") as info:
        load(
            (
                "loopy",
                Plugin(
                    [
                        mod("loopy.a", 2, "loopy.b"),
                        mod("loopy.b", 2, "loopy.c"),
                        mod("loopy.c", 2, "loopy.a"),
                        mod("loopy.d", 2, "loopy.a"),
                    ]
                ),
            )
        )
    message = str(info.value)
    assert "'loopy'" in message
    cycle = message.rsplit(": ", 1)[1].split(" -> ")
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["loopy.a", "loopy.b", "loopy.c"]


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(PluginConfigError, match=r"cycle: m16_me -> m16_me"):
        load(("me", Plugin([mod("m16_me", 1, "m16_me")])))


def test_unknown_dependency() -> None:
    with pytest.raises(
        PluginConfigError,
        match=r"plugin 'p': module 'p\.child' depends on unknown module 'p\.missing'",
    ):
        load(("p", Plugin([mod("p.child", 2, "p.missing")])))


def test_dependency_on_a_later_wave() -> None:
    with pytest.raises(PluginConfigError, match=r"'p\.early' \(wave 1\) .* 'p\.late'.*\(3\)"):
        load(("p", Plugin([mod("p.early", 1, "p.late"), mod("p.late", 3)])))


def test_dependency_across_plugins_on_an_earlier_wave() -> None:
    reg = load(("a", Plugin([mod("a.base", 1)])), ("b", Plugin([mod("b.top", 2, "a.base")])))
    assert reg.dependents["a.base"] == {"b.top"}


@pytest.mark.parametrize(
    "bad", ["M16_x", "m1_x", "m016_x", "m16_", "m16-x", "m16_X", "plugin", "Plugin.name", "a.b.c"]
)
def test_bad_module_id(bad: str) -> None:
    with pytest.raises(PluginConfigError, match=f"plugin 'p': module id '{bad}' must look like"):
        load(("p", Plugin([mod(bad)])))


@pytest.mark.parametrize("good", ["m16_x", "m99_long_name_2", "acme.revenue", "a1.b_2"])
def test_good_module_id(good: str) -> None:
    assert list(load(("p", Plugin([mod(good)]))).modules) == [good]


def test_wave_must_be_positive() -> None:
    with pytest.raises(PluginConfigError, match="wave 0 < 1"):
        load(("p", Plugin([mod("m16_x", 0)])))


# -- the built-in plugin ---------------------------------------------------------------------------

BUILTIN_WAVES = {
    1: ["m01_company_context", "m02_tech_stack"],
    2: ["m03_traffic", "m04_traffic_sources", "m05_competitors", "m06_keywords"],
    3: ["m07_financials", "m08_stock_info", "m09_analyst_ratings"],
    4: [
        "m10_hiring_signals",
        "m11_exec_quotes",
        "m12_trigger_events",
        "m13_case_study_match",
        "m14_icp_scoring",
        "m15_displacement_angle",
    ],
}
ALL = [m for wave in BUILTIN_WAVES.values() for m in wave]
M01, M02, M03, M07 = ALL[0], ALL[1], ALL[2], ALL[6]
BUILTIN_TTL_DAYS = dict(zip(ALL, [30, 7, 7, 7, 7, 7, 1, 1, 1, 3, 30, 3, 7, 7, 7], strict=True))


@pytest.fixture(scope="module")
def builtin() -> Registry:
    """The registry of the installed built-in plugin alone."""
    return load_with_builtin()


def test_builtin_is_loaded(builtin: Registry) -> None:
    info = _info(builtin, "builtin")
    assert info.status == "loaded", info.error
    assert info.modules == ALL


def test_builtin_modules_and_waves(builtin: Registry) -> None:
    assert list(builtin.modules) == ALL
    assert builtin.waves == [1, 2, 3, 4]
    for wave, ids in BUILTIN_WAVES.items():
        assert [m for m, s in builtin.modules.items() if s.wave == wave] == ids


def test_builtin_dependencies(builtin: Registry) -> None:
    deps = {m: set(all_dependencies(s)) for m, s in builtin.modules.items()}
    for m in ALL[:6]:
        assert deps[m] == set(), m
    for m in ALL[6:12]:
        assert deps[m] == {M01}, m
    assert deps["m13_case_study_match"] == {M01, M02, M03}
    assert deps["m14_icp_scoring"] == {M01, M02, M03, M07}
    assert deps["m15_displacement_angle"] == set(ALL[:14])
    # m13-m15 use what their inputs have: a failed input lowers confidence, it skips nothing.
    for m in ALL[12:]:
        assert builtin.modules[m].depends_on == (), m


def test_builtin_ttls(builtin: Registry) -> None:
    assert {m: s.ttl_seconds for m, s in builtin.modules.items()} == {
        m: days * DAY for m, days in BUILTIN_TTL_DAYS.items()
    }


def test_builtin_fallbacks_are_known_sources(builtin: Registry) -> None:
    # (A module's ``sources`` may also name local data, e.g. m13's "case_studies"; the engine
    # treats names without an actor as local, so only fallbacks must resolve.)
    assert builtin.sources
    for spec in builtin.sources.values():
        assert spec.fallback is None or spec.fallback in builtin.sources


def test_builtin_loads_alongside_a_third_party_plugin() -> None:
    reg = load_with_builtin(
        ("acme", Plugin([mod("acme.score", 4, "m14_icp_scoring")], [src("acme")]))
    )
    assert len(reg.modules) == 16
    wave4 = [m for m, spec in reg.modules.items() if spec.wave == 4]
    assert wave4 == ["acme.score", *BUILTIN_WAVES[4]]  # wave, then id
    assert _info(reg, "acme").status == "loaded"
    assert "acme" in reg.sources
    assert "acme.score" in reg.downstream([M01])


# -- registry queries ------------------------------------------------------------------------------


def test_with_dependencies(builtin: Registry) -> None:
    assert builtin.with_dependencies([M01]) == {M01}
    assert builtin.with_dependencies(["m08_stock_info"]) == {"m08_stock_info", M01}
    assert builtin.with_dependencies(["m14_icp_scoring"]) == {"m14_icp_scoring", M01, M02, M03, M07}
    assert builtin.with_dependencies(["m15_displacement_angle"]) == set(ALL)
    assert builtin.with_dependencies([]) == set()


def test_with_dependencies_is_transitive() -> None:
    reg = load(("p", Plugin([mod("p.a"), mod("p.b", 2, "p.a"), mod("p.c", 3, "p.b")])))
    assert reg.with_dependencies(["p.c"]) == {"p.a", "p.b", "p.c"}
    assert reg.downstream(["p.a"]) == {"p.b", "p.c"}


def test_downstream(builtin: Registry) -> None:
    assert builtin.downstream(["m15_displacement_angle"]) == set()
    assert builtin.downstream(["m07_financials"]) == {"m14_icp_scoring", "m15_displacement_angle"}
    assert builtin.downstream([M02]) == {
        "m13_case_study_match",
        "m14_icp_scoring",
        "m15_displacement_angle",
    }
    assert builtin.downstream([M01]) == set(ALL[6:])
    assert builtin.downstream(["m04_traffic_sources", "m08_stock_info"]) == {
        "m15_displacement_angle"
    }


def test_ordered(builtin: Registry) -> None:
    assert builtin.ordered(["m15_displacement_angle", M03, M01, "m10_hiring_signals"]) == [
        M01,
        M03,
        "m10_hiring_signals",
        "m15_displacement_angle",
    ]
    assert builtin.ordered(set(ALL)) == ALL
    assert builtin.ordered([]) == []


def test_registry_orders_by_wave_then_id() -> None:
    reg = load(("p", Plugin([mod("p.z", 1), mod("m16_b", 2), mod("m16_a", 2), mod("a.first", 3)])))
    assert list(reg.modules) == ["p.z", "m16_a", "m16_b", "a.first"]
    assert reg.waves == [1, 2, 3]


# -- a plugin's own options: [modules.<id>] --------------------------------------------------------


class ScoreOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A plugin module's own keys."""

    threshold: int = 10
    labels: list[str] = msgspec.field(default_factory=list)


def optioned(mid: str = "acme.score") -> ModuleSpec:
    """A module spec declaring ``ScoreOptions``."""
    return ModuleSpec(id=mid, wave=4, description="scores", run=_run, options_type=ScoreOptions)


def test_module_options_are_checked_against_the_spec() -> None:
    reg = load(("acme", Plugin([optioned(), mod("m16_free")])))
    reg.check_module_options({"acme.score": {"threshold": 3}, "m16_free": {"anything": [1]}})
    with pytest.raises(ConfigError, match=r"^modules\.acme\.score\.threshold: Expected `int`"):
        reg.check_module_options({"acme.score": {"threshold": "high"}})
    with pytest.raises(ConfigError, match=r"^unknown key 'modules\.acme\.score\.treshold'$"):
        reg.check_module_options({"acme.score": {"treshold": 3}})
    with pytest.raises(ConfigError, match=r"modules\.acme\.score\.labels\[1\]: Expected `str`"):
        reg.check_module_options({"acme.score": {"labels": ["a", 2]}})


def test_module_options_helper_decodes_the_table() -> None:
    ctx = ModuleTestContext({}, module_id="acme.score", options={"threshold": 3})
    assert module_options(ctx, ScoreOptions) == ScoreOptions(threshold=3)
    assert module_options(ModuleTestContext({}), ScoreOptions) == ScoreOptions()
    bad = ModuleTestContext({}, module_id="acme.score", options={"threshold": "x"})
    with pytest.raises(ModuleError) as info:
        module_options(bad, ScoreOptions)
    assert info.value.code == "invalid_options"
    assert info.value.message.startswith("modules.acme.score.threshold: Expected `int`")


def test_a_namespaced_module_table_needs_no_quotes() -> None:
    text = (
        "[modules.acme.score]\nthreshold = 3\n"
        '[modules."acme.other"]\nlabels = ["x"]\n'
        "[modules.m10_hiring_signals]\nnested = { a = 1 }\n"
    )
    assert parse_config(text).modules == {
        "acme.score": {"threshold": 3},
        "acme.other": {"labels": ["x"]},
        "m10_hiring_signals": {"nested": {"a": 1}},
    }
    with pytest.raises(ConfigError, match=r"modules\.acme\.score: the module's table is given"):
        parse_config('[modules.acme.score]\na = 1\n[modules."acme.score"]\nb = 2\n')


# -- failing plugins are reported, at load and at run time -----------------------------------------

BROKEN_AT_IMPORT = 'raise RuntimeError("cannot import me")\n'
BROKEN_AT_REGISTRATION = """
from enrichd.plugins import hookimpl

@hookimpl
def enrichd_modules():
    raise ValueError("registration bug")
"""


def _plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "importbroken.py").write_text(BROKEN_AT_IMPORT)
    (tmp_path / "regbroken.py").write_text(BROKEN_AT_REGISTRATION)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_plugins_command_reports_failed_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _plugin_dir(tmp_path, monkeypatch)
    config = _config_file(
        tmp_path,
        '[plugins]\ndisable = ["*"]\nmodules = ["tests.fakeplugin", "importbroken", "regbroken"]\n',
    )
    assert main(["plugins", "--config", config]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^importbroken +failed", out, re.M)
    assert "    error: RuntimeError: cannot import me" in out
    assert re.search(r"^regbroken +failed", out, re.M)
    assert "    error: ValueError: registration bug" in out
    assert re.search(r"^tests\.fakeplugin +loaded", out, re.M)


CONTRADICTING = """
from enrichd.plugins import ModuleSpec, hookimpl

async def run(ctx): ...

@hookimpl
def enrichd_modules():
    return [
        ModuleSpec(id="m01_company_context", wave=1, description="a second m01", run=run),
        ModuleSpec(id="loop.a", wave=2, description="", run=run, depends_on=("loop.b",)),
        ModuleSpec(id="loop.b", wave=2, description="", run=run, depends_on=("loop.a",)),
    ]
"""


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        (
            '["tests.fakeplugin", "contradicting"]',
            "module 'm01_company_context' is provided by both 'tests.fakeplugin' and "
            "'contradicting'",
        ),
        (
            '["contradicting"]',
            "plugin 'contradicting': modules depend on each other in a cycle: ",
        ),
    ],
)
def test_contradictions_stop_start_up_naming_the_plugin(
    modules: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "contradicting.py").write_text(CONTRADICTING)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "contradicting", raising=False)
    config = _config_file(tmp_path, f'[plugins]\ndisable = ["*"]\nmodules = {modules}\n')
    # `enrichd serve` loads plugins the same way and exits with the same message and status.
    assert main(["plugins", "--config", config]) == 2
    assert message in capsys.readouterr().err


def test_plugins_command_checks_module_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "optplugin.py").write_text(
        "import msgspec\n"
        "from enrichd.plugins import ModuleSpec, hookimpl\n"
        "class Opts(msgspec.Struct, forbid_unknown_fields=True):\n"
        "    limit: int = 1\n"
        "async def run(ctx): ...\n"
        "@hookimpl\n"
        "def enrichd_modules():\n"
        "    return [ModuleSpec(id='opt.mod', wave=1, description='', run=run,"
        " options_type=Opts)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "optplugin", raising=False)
    config = _config_file(
        tmp_path,
        '[plugins]\ndisable = ["*"]\nmodules = ["optplugin"]\n[modules.opt.mod]\nlimit = "many"\n',
    )
    assert main(["plugins", "--config", config]) == 2
    assert "modules.opt.mod.limit: Expected `int`, got `str`" in capsys.readouterr().err


def test_runtime_errors_are_counted_against_the_plugin() -> None:
    reg = load(("acme", Plugin([mod("acme.a"), mod("acme.b")])), ("other", Plugin([mod("o.c")])))
    reg.record_runtime_error("acme.b", "KeyError: 'x'")
    reg.record_runtime_error("acme.a", "TypeError: boom")
    reg.record_runtime_error("gone.module", "ignored: no plugin provides it")
    acme, other = _info(reg, "acme"), _info(reg, "other")
    assert acme.runtime_errors == 2 and acme.last_runtime_error == "acme.a: TypeError: boom"
    assert other.runtime_errors == 0 and other.last_runtime_error is None


async def test_a_crashing_module_shows_in_healthz(autojump: Any, engine_factory: Any) -> None:
    plugins = {"disable": ["*"], "modules": ["tests.fakeplugin"]}
    modules = {"m05_competitors": {"crash_domains": ["bad.com"]}}
    async with engine_factory(plugins=plugins, modules=modules) as engine:
        job = await engine.start_job("bad.com", JobRequest(modules=["m05_competitors"]))
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert final.module_states["m05_competitors"].error_code == "plugin_error"
        client = create_app(engine, Authenticator(engine.config, engine.store)).test_client()
        response = await client.get("/healthz")
        assert response.status_code == 200  # the daemon keeps serving
        body = await response.get_json()
    [fake] = [p for p in body["plugins"] if p["name"] == "tests.fakeplugin"]
    assert fake["status"] == "loaded"
    assert fake["runtime_errors"] == 1
    assert fake["last_runtime_error"] == "m05_competitors: RuntimeError: fake plugin bug"
    assert "m05_competitors" in fake["modules"]


GOING_AWAY = """
import trio
from enrichd.plugins import ModuleSpec, hookimpl

async def run(ctx):
    await trio.sleep_forever()

@hookimpl
def enrichd_modules():
    return [ModuleSpec(id="gone.mod", wave=1, description="hangs", run=run)]
"""


async def test_a_queued_module_whose_plugin_no_longer_loads_is_a_plugin_error(
    autojump: Any, engine_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "goingaway.py").write_text(GOING_AWAY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "goingaway", raising=False)
    with_plugin = {"disable": ["*"], "modules": ["tests.fakeplugin", "goingaway"]}
    async with engine_factory(plugins=with_plugin) as engine:
        job = await engine.start_job("acme.com", JobRequest(modules=["gone.mod", "m02_tech_stack"]))
        await wait_for_status(engine, job.job_id, {"running"})
    # Restarted without the plugin (uninstalled, or failing to import): the job resumes.
    without = {"disable": ["*"], "modules": ["tests.fakeplugin", "no_such_plugin_module"]}
    async with engine_factory(plugins=without) as engine:
        final = await wait_for_status(engine, job.job_id, {"completed", "failed"})
        assert [p.status for p in engine.registry.plugins if p.name == "no_such_plugin_module"] == [
            "failed"
        ]
    gone = final.module_states["gone.mod"]
    assert gone.status == "failed" and gone.error_code == "plugin_error"
    assert gone.error_message == "module gone.mod is no longer provided by any plugin"
    assert final.module_states["m02_tech_stack"].status == "completed"


def test_a_bad_module_options_table_stops_start_up(tmp_path: Path) -> None:
    from enrichd.daemon._server import build_engine
    from tests.conftest import make_config

    plugin = ("acme", Plugin([optioned()]))
    good = make_config(tmp_path, modules={"acme.score": {"threshold": 3}})
    build_engine(good, extra_plugins=[plugin]).store.close()
    bad = make_config(tmp_path, modules={"acme.score": {"threshold": "high"}})
    with pytest.raises(ConfigError, match=r"^modules\.acme\.score\.threshold: Expected `int`"):
        build_engine(bad, extra_plugins=[plugin])
