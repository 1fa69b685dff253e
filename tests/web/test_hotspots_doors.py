"""The command line and the web page ask the hotspot service the same question and get the
same answer: the same cells, ids and values, the same PAI, the same refusals; on both stores
(``backend``)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from gisapp.cli import cli

Login = Callable[[str], None]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _web(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    text = response.get_data(as_text=True)
    response.close()
    return response.status_code, text


@pytest.mark.parametrize("method", ["counts", "kde"])
def test_cli_and_web_give_the_same_hotspots(
    client: FlaskClient, login: Login, workspace_location: str, tmp_path: Path, method: str
) -> None:
    out = tmp_path / "out"
    code, output = _cli("hotspots", workspace_location, "--shift", "day", "--method", method,
                        "--out", str(out))  # fmt: skip
    assert code == 0, output
    cli_file = (out / f"hotspots_day_{method}.geojson").read_text(encoding="utf-8")
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))["shifts"]["day"]

    login("captain")
    status, web_file = _web(client, f"/hotspots/export.geojson?shift=day&method={method}")
    assert status == 200
    cli_features = json.loads(cli_file)["features"]
    web_features = json.loads(web_file)["features"]
    assert len(cli_features) == len(web_features) > 0
    ids = [(f["properties"]["cell"], f["properties"]["rank"]) for f in cli_features]
    assert ids == [(f["properties"]["cell"], f["properties"]["rank"]) for f in web_features]
    assert [f["properties"] for f in cli_features] == [f["properties"] for f in web_features]
    assert cli_file == web_file  # one writer: the same bytes

    status, page = _web(client, f"/hotspots/?shift=day&method={method}")
    assert status == 200
    assert f'id="pai">{kpis["pai"]:.2f}<' in page
    assert f'id="incidents">{kpis["incidents"]:,}<' in page


def _alert(page: str) -> str:
    match = re.search(r'<p class="flash" role="alert">(.*?)</p>', page, re.S)
    assert match, "no message on the page"
    return html.unescape(match.group(1)).strip()


@pytest.mark.parametrize(
    ("cli_args", "query"),
    [
        (("--shift", "night", "--method", "kde"), "shift=night&method=kde"),
        (("--shift", "day", "--method", "counts", "--group", "nonsense"),
         "shift=day&method=counts&group=nonsense"),
    ],
)  # fmt: skip
def test_cli_and_web_refuse_with_the_same_message(
    client: FlaskClient,
    login: Login,
    workspace_location: str,
    tmp_path: Path,
    cli_args: tuple[str, ...],
    query: str,
) -> None:
    code, output = _cli("hotspots", workspace_location, *cli_args, "--out", str(tmp_path))
    assert code == 1
    login("captain")
    _, page = _web(client, f"/hotspots/?{query}")
    message = _alert(page)
    assert message in output
    assert "Traceback" not in output and "Traceback" not in page
