#!/usr/bin/env bash
# The one way Budgie's Python packages are installed: by the Dockerfile, by .ci/install and by the
# image check in CI (a clean virtualenv).
#
#   ops/install.sh api    [options]   the API image: Flask API and the CPU stages, no torch, no NeMo
#   ops/install.sh engine [options]   the engine image: torch (pinned, from --torch-index), NeMo and the
#                                     embedded diarizer (resemblyzer goes in with --no-deps; see .ci/diarize-deps.sh)
# options:
#   --torch-index URL   where torch comes from (e.g. https://download.pytorch.org/whl/cu128); default PyPI
#   --extras a,b        more extras of pyproject.toml to install (dev, ops, ...)
#   --editable          pip install -e (a development checkout)
#   --no-cache          pip --no-cache-dir (images)
# The interpreter is $PYTHON (default python3): run it with a virtualenv's python to install there.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
variant=$1; shift
torch_index="" extras="" editable="" cache=()
while [ $# -gt 0 ]; do
  case $1 in
    --torch-index) torch_index=$2; shift 2 ;;
    --extras) extras=$2; shift 2 ;;
    --editable) editable=-e; shift ;;
    --no-cache) cache=(--no-cache-dir); shift ;;
    *) usage ;;
  esac
done

PYTHON=${PYTHON:-python3}
PIP=("$PYTHON" -m pip install -q --disable-pip-version-check "${cache[@]}")

case $variant in
  api) wanted="ops" ;;
  engine) wanted="nemo,diarize" ;;
  *) usage ;;
esac
[ -n "$extras" ] && wanted="$wanted,$extras"

if [ "$variant" = engine ]; then
  # torch first, at the version the `nemo` extra pins, from the chosen index; NeMo then keeps it.
  torch_pin=$("$PYTHON" - <<'PY'
import re, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["nemo"]
print(next(r for r in extras if re.match(r"torch==", r)))
PY
)
  if [ -n "$torch_index" ]; then
    "${PIP[@]}" "$torch_pin" --index-url "$torch_index"
  else
    "${PIP[@]}" "$torch_pin"
  fi
fi

# shellcheck disable=SC2086  # $editable is empty or -e
"${PIP[@]}" $editable ".[$wanted]"

if [ "$variant" = engine ]; then
  PYTHON="$PYTHON" bash .ci/diarize-deps.sh
fi
echo "install.sh: $variant installed (extras: $wanted)"
