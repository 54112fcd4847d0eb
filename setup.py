"""espnet_cffma: BSS-CFFMA speech enhancement as an ESPnet plugin."""

from setuptools import find_packages, setup

setup(
    name="espnet_cffma",
    version="0.1.0",
    description=(
        "BSS-CFFMA: self-supervised-embedding speech enhancement "
        "(MSCFF fusion + RHMA blocks) as an ESPnet separator"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["espnet_cffma", "espnet_cffma.*"]),
    python_requires=">=3.10",
    # espnet is not listed: its metadata pins setuptools<74, which torch>=2.6 cannot
    # satisfy. tools/install.sh installs it with --no-deps plus its requirements.
    install_requires=[
        "torch>=2.1",
        "torchaudio",
        "numpy<2.4",  # numpy 2.4 breaks ESPnet 202511's chunk iterator
        "scipy",
        "soundfile",
        "soxr",
        "kaldiio",
        "pesq",
        "pystoi",
        "tqdm",
        "matplotlib",
        "PyYAML",
    ],
    extras_require={"ssl": ["espnet-s3prl"], "demo": ["g722", "pyroomacoustics"]},
    entry_points={
        "console_scripts": [
            "cffma-enh-train=espnet_cffma.bin.enh_train:console_main",
            "cffma-enh-inference=espnet_cffma.bin.enh_inference:console_main",
            "cffma-enhance=espnet_cffma.bin.enhance:console_main",
            "cffma-pack=espnet_cffma.bin.pack:console_main",
            "cffma-python=espnet_cffma.bin.python_wrapper:console_main",
        ]
    },
)
