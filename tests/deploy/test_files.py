"""The files under deploy/ as docs/deploy.md shows them: quoted whole and unchanged, systemd units that
start ``reverie`` commands that exist, with options it accepts, and that systemd itself finds nothing
wrong with (``systemd-analyze verify``, where systemd is installed). The proxy configurations are run
for real by test_nginx.py and test_caddy.py."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fediverse.cli import build_parser
from fediverse.cli.serving import run_serve, run_worker
from tests.processes import ROOT

DOCS = ROOT / "docs" / "deploy.md"
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/reverie/.venv/bin/reverie"
QUOTE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)


def test_the_guide_quotes_the_deploy_files_as_they_are() -> None:
    quoted = dict(QUOTE.findall(DOCS.read_text()))
    shipped = {str(path.relative_to(ROOT)) for path in (ROOT / "deploy").rglob("*") if path.is_file()}
    assert set(quoted) == shipped
    for path, text in quoted.items():
        assert text == (ROOT / path).read_text(), f"docs/deploy.md quotes an old {path}: paste the file again"


def _exec_start(unit: Path) -> list[str]:
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_a_unit_starts_a_reverie_command_that_exists(unit: Path) -> None:
    program, *arguments = _exec_start(unit)
    assert program == INSTALLED
    parsed = build_parser().parse_args(arguments)  # an unknown command or option exits here
    assert parsed.handler in (run_serve, run_worker)
    assert "EnvironmentFile=/etc/reverie/reverie.env" in unit.read_text()


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd is not installed here")
    for unit in UNITS:  # the program must exist for `verify`: this checkout's, the same command
        text = unit.read_text().replace(INSTALLED, f"{sys.executable} -m fediverse")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / unit.name) for unit in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys are only warned about
