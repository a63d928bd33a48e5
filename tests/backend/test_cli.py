"""alsats-backend as a process: it serves with its simnet, and stops cleanly on SIGTERM;
its settings come from flags or ALSATS_* variables, all made from Config's fields."""

from __future__ import annotations

import asyncio
import fcntl
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import fields
from pathlib import Path

import pytest

from backend.cli import build_parser, main, parse_config, settings_table
from backend.config import Config, ConfigError, Limits, settings, ssl_context
from backend.lightning.polar import free_ports
from tests.tls import self_signed


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30,
                 context: ssl.SSLContext | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the backend exited"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1,
                                        context=context) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the backend never answered /healthz")


@pytest.mark.slow
def test_serves_with_simnet_and_shuts_down_cleanly(network_file, tmp_path):
    port = free_ports(1)[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "alice", "--simnet", "--data-dir", str(tmp_path / "data"), "--port", str(port),
         "--price-msat", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_healthy(url, process)["status"] == "ok"
        with urllib.request.urlopen(url + "/info") as response:
            assert json.load(response)["price_msat"] == 3
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any("per iteration" in line["message"] for line in lines)  # structured logs
    assert not any(line["level"] == "error" for line in lines)
    with (tmp_path / "data" / "simnet" / "simnet.lock").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the simnet let go of its dir


@pytest.mark.slow
def test_a_bad_node_name_is_a_clear_error(network_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "backend1", "--simnet", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not LND" in result.stderr


@pytest.mark.slow
async def test_serves_a_network_it_does_not_run_from_an_export_folder(simnet, nodes,
                                                                      network_file, data_dir,
                                                                      tmp_path):
    """Without --simnet alsats is a client of the nodes (here a simnet in this process, as
    Polar's LND would be): it finds alice's TLS cert and macaroons in --lnd-data-dir."""
    port = free_ports(1)[0]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
        "alice", "--lnd-data-dir", str(data_dir), "--data-dir", str(tmp_path / "state"),
        "--port", str(port), stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                info = await asyncio.to_thread(_get_json, url + "/info")
                break
            except OSError:
                assert process.returncode is None, "the backend exited"
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the backend never answered /info")
        assert info["node_pubkey"] == (await nodes["alice"].get_info()).pubkey
        assert not (tmp_path / "state" / "simnet").exists()  # no simnet of its own
    finally:
        process.terminate()
        await process.wait()


@pytest.mark.slow
def test_a_simnet_keeps_its_own_lnd_data(network_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "alice", "--simnet", "--lnd-data-dir", str(tmp_path), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--simnet keeps its own" in result.stderr


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


# --- settings: flags, ALSATS_* variables, --help, all made from Config's fields

REQUIRED = ["--network", "net.json", "--node", "alice"]


def test_the_parser_has_a_flag_for_every_config_field():
    actions = {action.dest: action for action in build_parser()._actions}
    names = [item.name for item in fields(Config) if item.name != "limits"]
    names += [item.name for item in fields(Limits)]  # nested, flattened: --max-pool-bytes
    assert len(names) == len(set(names))
    for name in names:
        assert name in actions and actions[name].option_strings, name
    flags = {flag: name for name, action in actions.items() for flag in action.option_strings}
    for flag, name in {"--network": "network_file", "--node": "node", "--simnet": "simnet",
                       "--no-simnet": "simnet", "--lnd-data-dir": "lnd_data_dir",
                       "--data-dir": "data_dir", "--host": "host", "--port": "port",
                       "--price-msat": "price_msat", "--workers": "workers",
                       "--read-timeout": "read_timeout_seconds",
                       "--read-timeout-seconds": "read_timeout_seconds",
                       "--tls-cert": "tls_cert", "--no-metrics": "metrics",
                       "--max-pool-bytes": "max_pool_bytes"}.items():
        assert flags[flag] == name, flag  # the flags of before keep working


def test_the_defaults_are_configs_own():
    config = parse_config(REQUIRED, environ={})
    assert config == Config(network_file=Path("net.json"), node="alice",
                            data_dir=Path(".alsats/backend"))
    assert config.ledger_url == "sqlite:///.alsats/backend/credits.sqlite"
    assert config.learners == "local" and config.processes == 1 and config.metrics
    assert ssl_context(config) is None


def test_variables_are_taken_and_flags_beat_them(tmp_path):
    environ = {"ALSATS_NETWORK": "from-env.json", "ALSATS_NODE": "bob", "ALSATS_PORT": "8000",
               "ALSATS_PRICE_MSAT": "5", "ALSATS_SIMNET": "yes", "ALSATS_METRICS": "0",
               "ALSATS_READ_TIMEOUT": "2.5", "ALSATS_MAX_POOL_BYTES": "123",
               "ALSATS_LEDGER": "postgresql:///alsats?host=/tmp", "ALSATS_HOST": "",
               "ALSATS_DATA_DIR": str(tmp_path)}
    config = parse_config([], environ=environ)
    assert (config.network_file, config.node, config.port) == (Path("from-env.json"), "bob",
                                                               8000)
    assert config.price_msat == 5 and config.simnet and not config.metrics
    assert config.read_timeout_seconds == 2.5 and config.limits.max_pool_bytes == 123
    assert config.ledger_url == "postgresql:///alsats?host=/tmp"
    assert config.host == "127.0.0.1"  # an empty variable counts as unset
    assert config.data_dir == tmp_path
    config = parse_config(["--node", "carol", "--port", "9000", "--no-simnet", "--metrics",
                           "--read-timeout-seconds", "7", "--max-pool-bytes", "456"],
                          environ=environ)
    assert (config.node, config.port, config.simnet, config.metrics) == ("carol", 9000,
                                                                        False, True)
    assert config.read_timeout_seconds == 7 and config.limits.max_pool_bytes == 456
    assert config.network_file == Path("from-env.json")


def test_a_bad_variable_is_a_one_line_error_naming_it():
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", *REQUIRED],
        env={**os.environ, "ALSATS_PORT": "abc"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["alsats-backend: ALSATS_PORT='abc' is not "
                                                  "an integer"]
    with pytest.raises(ConfigError, match="ALSATS_SIMNET='maybe' is not true or false"):
        parse_config(REQUIRED, environ={"ALSATS_SIMNET": "maybe"})
    with pytest.raises(ConfigError, match="port is out of range"):
        parse_config(REQUIRED, environ={"ALSATS_PORT": "70000"})


def test_network_and_node_are_required_unless_a_variable_gives_them(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_config(["--node", "alice"], environ={})
    assert exited.value.code == 2
    assert "--network (or ALSATS_NETWORK)" in capsys.readouterr().err
    assert parse_config(["--node", "alice"], environ={"ALSATS_NETWORK": "n.json"}).node == \
        "alice"


def test_help_lists_every_setting_with_its_variable_and_default(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    for item in settings():
        assert item.flag in text and item.env in text, item.name
    assert "[ALSATS_PORT; default: 8402]" in text
    assert "[ALSATS_NETWORK; required]" in text
    assert "[ALSATS_LEDGER; default: sqlite:///DATA_DIR/credits.sqlite]" in text


def test_the_backend_guide_tables_every_setting():
    table = settings_table()
    for item in settings():
        assert f"`{item.env}`" in table and f"`{item.flag}`" in table, item.name
    guide = Path(__file__).resolve().parents[2] / "docs" / "guides" / "backend.md"
    assert "<!-- settings table -->" in guide.read_text()  # where docs/hooks.py puts it


def test_the_new_settings_are_checked():
    base = {"network_file": "n.json", "node": "alice", "data_dir": "d"}
    with pytest.raises(ConfigError, match="--processes 2 needs --learners ray"):
        Config(**base, processes=2)
    assert Config(**base, processes=4, learners="ray").processes == 4
    assert Config(**base, processes=4, learners="ray://head:10001").learners == \
        "ray://head:10001"
    with pytest.raises(ConfigError, match="processes is out of range"):
        Config(**base, processes=0)
    for learners in ("dask", "ray://", "RAY"):
        with pytest.raises(ConfigError, match="learners"):
            Config(**base, learners=learners)
    for ledger in ("sqlite:////var/alsats/credits.sqlite", "postgresql://u@db/alsats",
                   "postgres://db/alsats", "postgresql:///alsats?host=/run/pg"):
        assert Config(**base, ledger=ledger).ledger_url == ledger
    for ledger in ("mysql://db/alsats", "credits.sqlite", "sqlite:///"):
        with pytest.raises(ConfigError, match="ledger"):
            Config(**base, ledger=ledger)
    with pytest.raises(ConfigError, match="--tls-cert and --tls-key go together"):
        Config(**base, tls_cert="cert.pem")
    with pytest.raises(ConfigError, match="max_query_k is out of range"):
        parse_config(REQUIRED + ["--max-query-k", "0"], environ={})


def test_the_tls_context_wants_tls_1_2_and_readable_files(network_file, tmp_path, capsys):
    cert, key = self_signed(tmp_path)
    base = {"network_file": network_file, "node": "alice", "data_dir": tmp_path}
    context = ssl_context(Config(**base, tls_cert=cert, tls_key=key))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(ConfigError, match="no such file"):
        ssl_context(Config(**base, tls_cert=tmp_path / "missing.pem", tls_key=key))
    with pytest.raises(ConfigError, match="cannot load"):
        ssl_context(Config(**base, tls_cert=key, tls_key=cert))  # swapped
    code = main(["--network", str(network_file), "--node", "alice", "--simnet", "--data-dir",
                 str(tmp_path), "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key",
                 str(key)])
    assert code == 2 and "missing.pem: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_serves_https_itself_with_a_cert_and_key(network_file, tmp_path):
    cert, key = self_signed(tmp_path)
    port = free_ports(1)[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "alice", "--simnet", "--data-dir", str(tmp_path / "data"), "--port", str(port),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        assert wait_healthy(f"https://127.0.0.1:{port}", process,
                            context=trusting)["status"] == "ok"
        with urllib.request.urlopen(f"https://localhost:{port}/info", timeout=5,
                                    context=trusting) as response:
            assert json.load(response)["price_msat"] == 1000
        with pytest.raises((OSError, http.client.HTTPException)):  # no plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=5).close()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == 0, stderr
    assert f"https://127.0.0.1:{port}" in stderr


@pytest.mark.parametrize("flag, lines", [([], 1), (["--no-access-log"], 0)])
async def test_the_access_log_has_a_line_per_request_unless_it_is_off(caplog, tmp_path,
                                                                      flag, lines):
    from aiohttp import ClientSession, web

    from backend.app import server_options

    config = parse_config(["--network", str(tmp_path / "n.json"), "--node", "alice", *flag])
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app, **server_options(config))
    await runner.setup()
    port = free_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with caplog.at_level("INFO", logger="aiohttp.access"):
            async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as answer:
                assert answer.status == 200
            await asyncio.sleep(0.1)  # the line is written once the response is sent
    finally:
        await runner.cleanup()
    assert len([r for r in caplog.records if r.name == "aiohttp.access"]) == lines
