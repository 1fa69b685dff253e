"""The command line in Chinese: ``gisapp --lang zh_CN``, ``GISAPP_LANG``, and the ``--lang``
of the commands that write documents; English stays the default.

The exports read a copy of the New Haven sample on both stores (a GeoPackage file and a
PostGIS schema, ``tests/conftest.py``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from gisapp.cli import cli, main
from gisapp.cli._common import counts_line, join_items, warning_levels_text
from gisapp.cli._language import LanguageParam
from layers.errors import Problem
from layers.i18n import current_language, use_language

CJK = re.compile(r"[\u4e00-\u9fff]")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI without any language set by the machine, unless ``env`` sets one."""
    quiet = {"GISAPP_LANG": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}
    return CliRunner().invoke(cli, list(args), env={**quiet, **(env or {})})


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "grids.geojson"
    path.write_text("{not json", encoding="utf-8")
    return path


def _summary(result: Result, source: Path) -> str:
    """The last line of ``validate``: SOURCE, verdict, counts."""
    lines = [line for line in result.output.splitlines() if line.startswith(str(source))]
    return lines[-1]


# -- the group's language --------------------------------------------------------------------


def test_lang_option_makes_validate_speak_chinese(bad_file: Path) -> None:
    result = run("--lang", "zh_CN", "validate", str(bad_file), "--layer", "grids")
    assert result.exit_code == 1, result.output
    summary = _summary(result, bad_file)
    assert summary == f"{bad_file}：校验未通过（错误 1 个，警告 0 个，已修复 0 个）"
    assert "请检查文件及其格式" in result.output  # the fix of an unreadable file
    assert "INVALID" not in result.output and "error(s)" not in result.output


def test_gisapp_lang_environment_variable(bad_file: Path) -> None:
    result = run("validate", str(bad_file), "--layer", "grids", env={"GISAPP_LANG": "zh_CN"})
    assert result.exit_code == 1, result.output
    assert "校验未通过" in _summary(result, bad_file)


def test_system_locale_is_followed_and_lang_wins_over_it(bad_file: Path) -> None:
    chinese = run("validate", str(bad_file), "--layer", "grids", env={"LANG": "zh_CN.UTF-8"})
    assert "校验未通过" in _summary(chinese, bad_file)
    english = run(
        "--lang", "en", "validate", str(bad_file), "--layer", "grids", env={"LANG": "zh_CN.UTF-8"}
    )
    assert _summary(english, bad_file) == (
        f"{bad_file}: INVALID (1 error(s), 0 warning(s), 0 repaired)"
    )


def test_english_is_the_default_and_unchanged(bad_file: Path) -> None:
    result = run("validate", str(bad_file), "--layer", "grids")
    assert result.exit_code == 1
    assert _summary(result, bad_file) == (
        f"{bad_file}: INVALID (1 error(s), 0 warning(s), 0 repaired)"
    )
    assert current_language() == "en"  # nothing leaks out of the command


def test_usage_errors_of_the_commands_are_in_chinese(tmp_path: Path) -> None:
    result = run(
        "--lang", "zh_CN", "reach", "sample:new_haven", "--minutes", "x", "--out", str(tmp_path)
    )
    assert result.exit_code == 2
    assert "分钟数应写成 '1,3,5' 这样，实际为 'x'" in result.output


def test_main_returns_the_codes_in_chinese_too(bad_file: Path, capsys) -> None:
    assert main(["--lang", "zh_CN", "validate", str(bad_file), "--layer", "grids"]) == 1
    assert "校验未通过" in capsys.readouterr().out
    assert current_language() == "en"


# -- the commands' own --lang ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["export", "bulletin", "demo", "coverage"])
def test_document_commands_have_lang(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    option = next(p for p in command.params if p.name == "lang")
    assert isinstance(option.type, LanguageParam)
    assert option.type.convert("zh-CN", option, None) == "zh_CN"
    assert not option.expose_value  # ctx.invoke (as demo does) needs no value for it


@pytest.fixture
def export_language(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The language in force while ``gisapp export --what grids`` writes its files."""
    from gisapp.render import export as exports

    seen: list[str] = []
    real = exports.export_grids

    def export_grids(*args: Any, **kwargs: Any) -> list[Path]:
        seen.append(current_language())
        written: list[Path] = real(*args, **kwargs)
        return written

    monkeypatch.setattr(exports, "export_grids", export_grids)
    return seen


def test_export_lang_writes_in_chinese(
    export_language: list[str], module_sample_location: str, tmp_path: Path
) -> None:
    args = ["export", module_sample_location, "--what", "grids", "--format", "geojson"]
    result = run(*args, "--lang", "zh_CN", "--out", str(tmp_path / "zh"))
    assert result.exit_code == 0, result.output
    english = run(*args, "--out", str(tmp_path / "en"))
    assert english.exit_code == 0, english.output
    assert export_language == ["zh_CN", "en"]
    assert any((tmp_path / "zh").iterdir())


def test_command_lang_wins_over_the_group_and_the_environment(
    export_language: list[str], module_sample_location: str, tmp_path: Path
) -> None:
    args = ["export", module_sample_location, "--what", "grids", "--format", "geojson"]
    result = run(
        "--lang", "en", *args, "--lang", "zh_CN", "--out", str(tmp_path), env={"LANG": "en_US"}
    )
    assert result.exit_code == 0, result.output
    back = run(*args, "--lang", "en", "--out", str(tmp_path), env={"GISAPP_LANG": "zh_CN"})
    assert back.exit_code == 0, back.output
    assert export_language == ["zh_CN", "en"]


def test_export_error_is_printed_in_the_commands_language(
    module_sample_location: str, tmp_path: Path
) -> None:
    # the sample has no saved plan: the group prints the error after the command ended
    result = run("export", module_sample_location, "--lang", "zh_CN", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("错误：")
    assert "没有已保存的巡逻方案" in result.output


# -- helpers ---------------------------------------------------------------------------------


def test_counts_and_lists_in_both_languages() -> None:
    problems = [
        Problem("grids", "G1", "x", "m", "f", "error"),
        Problem("grids", "G2", "x", "m", "f", "warning"),
        Problem("grids", "G3", "x", "m", "f", "warning"),
    ]
    assert counts_line(problems) == "1 error(s), 2 warning(s), 0 repaired"
    assert join_items(["a", "b"]) == "a, b"
    levels = {"red": 1, "orange": 2, "yellow": 0, "blue": 1234}
    assert warning_levels_text(levels) == str(levels)
    with use_language("zh_CN"):
        assert counts_line(problems) == "错误 1 个，警告 2 个，已修复 0 个"
        assert join_items(["a", "b"]) == "a，b"
        assert warning_levels_text(levels) == "红色预警 1，橙色预警 2，黄色预警 0，蓝色预警 1,234"


# -- startup stays light ---------------------------------------------------------------------

_PROBE = """
import json, sys
from click.testing import CliRunner
from gisapp.cli import cli
result = CliRunner().invoke(cli, {args!r})
print(json.dumps({{"code": result.exit_code,
                   "modules": sorted(m for m in ("babel", "geopandas", "pandas", "shapely")
                                     if m in sys.modules)}}))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["--lang", "zh_CN", "--help"], ["--lang", "zh_CN", "validate", "--help"]]
)
def test_help_in_any_language_imports_no_heavy_module(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "modules": []}


def test_help_texts_stay_english() -> None:
    result = run("--lang", "zh_CN", "export", "--help")
    assert result.exit_code == 0
    lang_help = result.output[result.output.index("--lang") :]
    assert "Language of the messages" in lang_help
    assert not CJK.search(result.output.split("Options:")[0])


def test_coverage_and_grid_tables_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    from gisapp.cli.coverage import _echo_bands
    from gisapp.cli.grids import _echo_design

    band = {
        "minutes": 3.0,
        "street_share": 0.235,
        "risk_share": 0.3,
        "key_places_share": None,
        "residents_share": 0.221,
        "area_km2": 4.68,
    }
    kpis: dict[str, Any] = {"bands": [band], "residents_measure": "households"}
    layout = {
        "grids": 202,
        "workload": {"max_mean": 2.7, "gini": 0.3, "cv": 0.5, "within_tolerance_share": 0.17},
        "polsby_popper_mean": 0.5,
        "units": {"max_mean": 1.6, "gini": 0.2, "cv": 0.4},
    }
    design = {"tolerance": 0.15, "current": layout, "designed": layout}
    _echo_bands(kpis)
    _echo_design(design)
    english = capsys.readouterr().out.splitlines()
    assert english[0] == "3 min: street 23.5%, risk 30.0%, households 22.1%, 4.68 km2"
    assert english[1].startswith("current    202 grids  max/mean 2.70")
    assert english[3].startswith("units     current max/mean 1.60")
    with use_language("zh_CN"):
        _echo_bands(kpis)
        _echo_design(design)
    chinese = capsys.readouterr().out.splitlines()
    assert chinese[0] == "3 分钟：道路覆盖 23.5%，风险覆盖 30.0%，户数 22.1%，4.68 平方公里"
    assert chinese[1].startswith("现状") and "网格  202 个" in chinese[1]
    assert chinese[3].startswith("巡组") and "设计 最大/平均 1.60" in chinese[3]
    # nothing English is left but the names of measures kept in every language
    leftover = re.sub(r"Polsby-Popper", "", "\n".join(chinese))
    assert not re.search(r"[A-Za-z]{3,}", leftover), leftover
