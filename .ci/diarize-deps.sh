#!/usr/bin/env bash
# Install the embedded diarizer's packages (and the bench's DER library) without replacing torch.
# Idempotent: every package is checked first. Safe to run on a machine that already has them.
#
# Why not `pip install resemblyzer`: its metadata asks for `webrtcvad` (an sdist that needs a C
# compiler and imports pkg_resources, which setuptools>=81 no longer ships) and the `typing`
# backport. `webrtcvad-wheels` provides the same `webrtcvad` module as a binary wheel, so
# resemblyzer goes in with --no-deps and its real dependencies (librosa, scipy, torch) come from
# the base install. silero-vad also asks for torch; it is installed with --no-deps for that reason.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}  # ops/install.sh passes the interpreter it installs into
PIP=("$PY" -m pip install -q --disable-pip-version-check)
torch_before=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)

have() {  # have DIST VERSION: the distribution is installed at exactly that version
  "$PY" - "$1" "$2" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version(sys.argv[1]) == sys.argv[2] else 1)
PY
}

install_exact() {  # install_exact DIST VERSION [pip options...]
  local dist=$1 version=$2; shift 2
  have "$dist" "$version" || "${PIP[@]}" "$@" "$dist==$version"
}

install_exact silero-vad 6.2.3 --no-deps
install_exact resemblyzer 0.1.4 --no-deps
install_exact webrtcvad-wheels 2.0.14.post1 --no-deps
# resemblyzer's mel spectrogram (no torch dependency); NeMo usually brings it already, keep that one
"$PY" -c 'import librosa' 2>/dev/null || "${PIP[@]}" librosa==0.11.0
install_exact pyannote.metrics 4.2.0  # bench/diarize.py's DER; pyannote.core/.database only, no torch

torch_after=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)
if [ "$torch_before" != "$torch_after" ]; then
  echo "diarize-deps: torch changed from $torch_before to $torch_after; refusing to continue" >&2
  exit 1
fi

# The packages must import and find their bundled weights with no network.
HF_HUB_OFFLINE=1 "$PY" - <<'PY'
from resemblyzer import VoiceEncoder
from silero_vad import load_silero_vad
VoiceEncoder("cpu", verbose=False)
load_silero_vad(onnx=False)
PY
echo "diarize-deps: embedded diarizer ready (torch $torch_after)"
