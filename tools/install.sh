#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment: tools/venv.
#
# Idempotent: a stamp records the hash of everything that defines the
# environment; when nothing changed and the package imports, it returns at once.
#
# Usage: tools/install.sh [--force]
#
# Environment variables:
#   CFFMA_VENV           where the venv goes (default: tools/venv)
#   CFFMA_PYTHON         interpreter that creates it (default: python3, needs >= 3.10)
#   CFFMA_TORCH          torch requirement (default: torch==2.13.0; on a machine with
#                        only package registries this takes a local CPU wheel)
#   CFFMA_TORCHAUDIO     torchaudio requirement (default: torchaudio==2.11.0)
#   CFFMA_SYSTEM_TORCH   set to 1 on a GPU box whose Python already has a CUDA torch
#                        and torchaudio: the venv sees system site-packages and keeps them.
#   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL   honoured by pip as usual (e.g. the PyTorch
#                        CUDA index for CFFMA_TORCH=torch==2.13.0+cu126).
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$tools_dir")
venv=${CFFMA_VENV:-$tools_dir/venv}
python=${CFFMA_PYTHON:-python3}
torch_req=${CFFMA_TORCH:-torch==2.13.0}
torchaudio_req=${CFFMA_TORCHAUDIO:-torchaudio==2.11.0}
system_torch=${CFFMA_SYSTEM_TORCH:-0}
force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "[install] $*" >&2; }

stamp_inputs() {
  cat "$tools_dir/install.sh" "$tools_dir/requirements.txt" "$tools_dir/constraints.txt" \
    "$repo_dir/setup.py"
  echo "$torch_req $torchaudio_req $system_torch"
}
stamp=$(stamp_inputs | sha256sum | cut -d' ' -f1)
stamp_file=$venv/.cffma-install-stamp

if [ "$force" = 0 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] &&
  "$venv/bin/python" -c "import espnet_cffma" 2>/dev/null; then
  exit 0
fi

log "setting up $venv (takes a few minutes the first time)"
if [ ! -x "$venv/bin/python" ]; then
  if [ "$system_torch" = 1 ]; then
    "$python" -m venv --system-site-packages "$venv"
  else
    "$python" -m venv "$venv"
  fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# pip 23 backtracks into old espnet releases, pip 26 rejects ci_sdr's metadata: 25.3 works.
"${pip[@]}" install -q "pip==25.3"

# torch first, pinned, so that nothing later can swap it for another build.
torch_pin=$venv/torch-pin.txt
if [ "$system_torch" = 1 ]; then
  "$venv/bin/python" -c "import torch, torchaudio" ||
    { log "CFFMA_SYSTEM_TORCH=1 but the system python has no torch/torchaudio"; exit 1; }
else
  "${pip[@]}" install -q "$torch_req"
  # torchaudio declares no torch dependency; --no-deps keeps the torch we chose.
  "${pip[@]}" install -q --no-deps "$torchaudio_req"
fi
"$venv/bin/python" - >"$torch_pin" <<'EOF'
import importlib.metadata as md
print(f"torch=={md.version('torch')}")
print(f"torchaudio=={md.version('torchaudio')}")
EOF

"${pip[@]}" install -q -r "$tools_dir/requirements.txt" \
  -c "$tools_dir/constraints.txt" -c "$torch_pin"
"${pip[@]}" install -q --no-deps "espnet==202511"
"${pip[@]}" install -q --no-deps -e "$repo_dir"

# A torchaudio wheel built for another torch (there is no CPU build of torchaudio
# for torch 2.13) cannot load its compiled extension. Without the .so files
# torchaudio falls back to pure Python, which is all ESPnet and s3prl need here
# (audio I/O goes through soundfile). Only done when the extension fails to load.
if ! "$venv/bin/python" -c "import torchaudio" 2>/dev/null; then
  ta_lib=$("$venv/bin/python" -c \
    "import importlib.util as u, os; print(os.path.join(os.path.dirname(u.find_spec('torchaudio').origin), 'lib'))")
  log "torchaudio's compiled extension does not match this torch: using its pure-Python fallback"
  rm -f "$ta_lib"/*.so
  "$venv/bin/python" -c "import torchaudio"
fi

"$venv/bin/python" -c "import espnet2.tasks.enh, espnet_cffma" >/dev/null 2>&1 ||
  { log "the environment imports fail:"; "$venv/bin/python" -c "import espnet2.tasks.enh, espnet_cffma"; exit 1; }
echo "$stamp" >"$stamp_file"
log "done: activate with 'source $venv/bin/activate'"
