"""Expectations and helpers shared by the recipe tests."""

import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "egs2" / "TEMPLATE"

# Plausible range of every metric in a RESULTS.md table, keyed by column name.
METRIC_RANGES = {
    "PESQ-WB": (1.0, 4.65),
    "CSIG": (1.0, 5.0),
    "CBAK": (1.0, 5.0),
    "COVL": (1.0, 5.0),
    "STOI (%)": (0.0, 100.0),
    "ESTOI (%)": (-100.0, 100.0),
    "SI-SNR (dB)": (-60.0, 80.0),
    "SDR (dB)": (-60.0, 80.0),
    "DNSMOS SIG": (1.0, 5.0),
    "DNSMOS BAK": (1.0, 5.0),
    "DNSMOS OVRL": (1.0, 5.0),
    "DNSMOS P.808": (1.0, 5.0),
}


def recipe_env(**extra):
    """Environment for running recipe scripts with this interpreter, no install."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["CFFMA_SKIP_INSTALL"] = "1"  # the test session's environment is the one
    env.update(extra)
    return env


def bash(script, *args, cwd=None, env=None):
    """Runs a bash snippet with positional arguments; captures its output."""
    return subprocess.run(
        ["bash", "-c", script, "bash", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def write_data_dir(root, signals, fs, refs=True):
    """Kaldi data dir ``root/data`` from {utt: noisy} (clean = 0.5 * noisy)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    wav, spk1, u2s = [], [], []
    for utt, x in sorted(signals.items()):
        sf.write(root / "src" / f"{utt}_n.wav", x, fs, subtype="FLOAT")
        sf.write(root / "src" / f"{utt}_c.wav", 0.5 * x, fs, subtype="FLOAT")
        wav.append(f"{utt} {root}/src/{utt}_n.wav\n")
        spk1.append(f"{utt} {root}/src/{utt}_c.wav\n")
        u2s.append(f"{utt} {utt.split('_')[0]}\n")
    data = root / "data"
    data.mkdir(exist_ok=True)
    (data / "wav.scp").write_text("".join(wav))
    if refs:
        (data / "spk1.scp").write_text("".join(spk1))
    (data / "utt2spk").write_text("".join(u2s))
    return data
