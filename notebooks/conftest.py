"""nbval runs the notebooks: each starts (or attaches to) its own local stack in a temp
dir, never the user's, and the demo drives its widget by itself (autopilot)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ["ALSATS_STACK_DIR"] = tempfile.mkdtemp(prefix="alsats-nbval-stack-")
atexit.register(shutil.rmtree, os.environ["ALSATS_STACK_DIR"], ignore_errors=True)
os.environ["ALSATS_AUTOPILOT"] = "1"
