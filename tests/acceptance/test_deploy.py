"""deploy/: the systemd unit and the container image start the same `main.py paper` the process test runs
(`test_paper_process` builds its command from the image's), with the state directory, signals and restarts a
long-running service needs (issue 15)."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import main
from config.loader import load_config, store_dir

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "cutcycle-paper.service"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def dockerfile() -> dict[str, str]:
    """Instruction -> its (last) argument; continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out[word.upper()] = (out[word.upper()] + "\n" + rest.strip()) if word.upper() == "RUN" and word.upper() in out else rest.strip()
    return out


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the image (exec form)."""
    d = dockerfile()
    return [*json.loads(d["ENTRYPOINT"]), *json.loads(d["CMD"])]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def unit_command() -> list[str]:
    return shlex.split(unit()["Service"]["ExecStart"])


def test_the_unit_and_the_image_run_the_same_paper_command() -> None:
    image, service = image_command(), unit_command()
    assert Path(image[0]).name.startswith("python") and Path(service[0]).name.startswith("python")
    assert image[1:] == service[1:]
    assert image[1] == "main.py"
    args = main.build_parser().parse_args(image[2:])
    assert args.handler is main.cmd_paper and not args.simulate and not args.dry_run
    config = ROOT / args.config
    assert config.is_file() and args.config == Path("deploy/cutcycle.toml")
    state = store_dir(load_config(config, []).config)
    # The state the command writes is the service's state directory and the image's volume.
    assert state == Path("/var/lib") / unit()["Service"]["StateDirectory"]
    assert json.loads(dockerfile()["VOLUME"]) == [str(state)]


def test_the_unit_restarts_on_failure_stops_on_sigterm_and_keeps_secrets_in_a_private_file() -> None:
    s = unit()["Service"]
    assert s["Restart"] == "on-failure" and s["KillSignal"] == "SIGTERM" and s["RestartPreventExitStatus"] == "2"
    assert s["StateDirectoryMode"] == "0700" and s["UMask"] == "0077" and s["EnvironmentFile"] == "/etc/cutcycle/cutcycle.env"
    assert "install -m 0600 deploy/cutcycle.env.example /etc/cutcycle/cutcycle.env" in UNIT.read_text()
    example = (ROOT / "deploy" / "cutcycle.env.example").read_text()
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert names == {"APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "FRED_API_KEY", "CUTCYCLE_NOTIFY_URLS"}
    assert all(line.endswith("=") for line in example.splitlines() if "=" in line and not line.startswith("#"))  # no values


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """With the install paths pointed at this checkout (verify checks that ExecStart is executable)."""
    text = UNIT.read_text().replace("/opt/cutcycle/.venv/bin/python", sys.executable).replace("WorkingDirectory=/opt/cutcycle",
                                                                                                f"WorkingDirectory={ROOT}")
    local = tmp_path / UNIT.name
    local.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


def test_the_image_pins_its_requirements_and_runs_as_a_user_with_a_state_volume() -> None:
    d = dockerfile()
    assert d["FROM"].startswith("python:3.11")
    assert "-c requirements.txt" in d["RUN"]  # every package at the lock file's version
    assert d["USER"] not in ("root", "0") and "useradd" in d["RUN"] and f"-o {d['USER']}" in d["RUN"]
    assert d["STOPSIGNAL"] == "SIGTERM"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".cutcycle" in ignored  # no local state or secrets baked into the image
