"""The main job: a local stack, then JupyterLab on the demo notebook, stopped together.

The notebooks that ship with alsats are copied into a working folder the first time
(``./alsats-notebooks``, or ``--workdir``) and JupyterLab opens the copy: a later start
reuses it and never overwrites the user's edits, and the package's own notebooks (in a
checkout, the tracked ``notebooks/``) are never touched. The stack's data dir is handed
to JupyterLab's kernels in $ALSATS_STACK_DIR, so the notebook's ``local_stack()``
attaches to this running stack instead of starting its own. Ctrl-C stops JupyterLab (it
asks first, as always) and then the stack.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

from backend.lightning.polar import free_ports

from . import resources
from .stack import DEFAULT_DATA_DIR, ENV_VAR, StackError, die_with_parent, local_stack

DEFAULT_WORKDIR = Path("alsats-notebooks")  # in the folder alsats-lab is started from


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alsats-lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser; JupyterLab prints the URL to open")
    parser.add_argument("--port", type=int, default=8888,
                        help="JupyterLab's port (8888; a free one if taken)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="the working folder: the notebooks are copied there the "
                             "first time, and your edits and label files stay there "
                             f"({DEFAULT_WORKDIR}/ in the current folder)")
    parser.add_argument("--notebook", default=resources.DEMO_NOTEBOOK,
                        help="the notebook to open: a file name in the working folder, "
                             f"or a path ({resources.DEMO_NOTEBOOK})")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="the local stack's state (~/.alsats/stack)")
    parser.add_argument("--price-msat", type=int, default=1000,
                        help="what the local server charges per iteration (1000 msat)")
    return parser.parse_args(argv)


def jupyter_command(notebook: Path, port: int, token: str, no_browser: bool) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", str(notebook),
               f"--ServerApp.root_dir={notebook.parent}", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}",
               "--LabApp.news_url=None",  # nothing fetched from outside unasked
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines
        command.append("--allow-root")
    return command


def free_port(wanted: int) -> int:
    """``wanted`` if nothing listens there, else a free one (so the URL printed is right)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            return free_ports(1)[0]


def copy_notebooks(workdir: Path) -> list[str]:
    """Copy the notebooks that ship with alsats into ``workdir``, each only if it is not
    there yet (the user's copy and edits win); returns the names copied."""
    workdir.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, notebook in resources.notebooks().items():
        target = workdir / name
        if not target.exists():
            target.write_bytes(notebook.read_bytes())
            copied.append(name)
    return copied


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir.expanduser().resolve()
    try:
        copied = copy_notebooks(workdir)
    except OSError as exc:
        print(f"alsats-lab: cannot copy the notebooks into {workdir}: {exc}", file=sys.stderr)
        return 2
    if copied:
        print(f"alsats: copied {', '.join(copied)} into {workdir}", flush=True)
    notebook = (workdir / args.notebook).resolve()
    if not notebook.is_file():
        print(f"alsats-lab: no notebook at {notebook}", file=sys.stderr)
        return 2
    try:
        stack = local_stack(args.data_dir, price_msat=args.price_msat)
    except StackError as exc:
        print(f"alsats-lab: {exc}", file=sys.stderr)
        return 1
    print(f"alsats: the local stack is up at {stack.url} (alice serves, bob and carol pay); "
          f"its state is in {args.data_dir}", flush=True)
    port, token = free_port(args.port), secrets.token_hex(24)
    url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}"
    print(f"alsats: JupyterLab on {notebook.name} in {notebook.parent}: {url}", flush=True)
    lab = subprocess.Popen(jupyter_command(notebook, port, token, args.no_browser),
                           env={**os.environ, ENV_VAR: str(stack.data_dir)},
                           preexec_fn=die_with_parent)  # as the stack: no orphan
    signal.signal(signal.SIGTERM, lambda *_: lab.terminate())
    try:
        while True:
            try:
                return lab.wait()
            except KeyboardInterrupt:  # JupyterLab got it too, and decides
                continue
    finally:
        if lab.poll() is None:
            lab.terminate()
            lab.wait()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
