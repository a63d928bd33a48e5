"""alsats-backend as a process: it serves with its simnet, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import fcntl
import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from backend.lightning.polar import free_ports

pytestmark = pytest.mark.slow


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the backend exited"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the backend never answered /healthz")


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


def test_a_bad_node_name_is_a_clear_error(network_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "backend1", "--simnet", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not LND" in result.stderr


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


def test_a_simnet_keeps_its_own_lnd_data(network_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--network", str(network_file), "--node",
         "alice", "--simnet", "--lnd-data-dir", str(tmp_path), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--simnet keeps its own" in result.stderr


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)
