#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its locked dependency set.
# Everything comes from the package registry; constraints.txt pins the tested versions
# (torch/torchvision/facenet-pytorch must be a matched set, see ../shared/DESIGN.md §4).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else "Python 3.11 or 3.12 is required")'
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
# an editable install leaves the project's own modules uncompiled: compile them now, so that a
# process started with PYTHONDONTWRITEBYTECODE (or -B, as multiprocessing passes it on) does not
# compile them again each time it starts
.venv/bin/python -m compileall -q influencer_pipeline influencer_tools > /dev/null
.venv/bin/python -c 'import torch, torchvision, facenet_pytorch, dlib, hdbscan, av, dagster; print("installed: torch", torch.__version__, "| torchvision", torchvision.__version__, "| dagster", dagster.__version__)'
