"""speechbrain_xai: explain pretrained SpeechBrain audio classifiers."""

import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()

# torch / torchaudio must come as an exact pair: torchaudio's wheels are built
# against one torch release and fail to import against another (torchaudio
# 2.11.1 does not import with torch 2.11.0 or 2.12.1: "undefined symbol:
# torch_exception_get_what_without_backtrace"). A range lets a new release of
# either break every fresh install, so both are pinned. This pair imports and
# runs on CPU-only machines and on CUDA; check another pair in a fresh virtual
# environment (python -c "import torchaudio") before changing it.
TORCH = ["torch==2.11.0", "torchaudio==2.11.0"]

setup(
    name="speechbrain_xai",
    version="0.1.0",
    description="Explainers for pretrained SpeechBrain audio classifiers: L-MAC, "
    "GAN-based activation maximisation, evolved local explanations",
    long_description=long_description,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["speechbrain_xai", "speechbrain_xai.*"]),
    python_requires=">=3.9",
    install_requires=TORCH + [
        "speechbrain==1.1.2",
        "hyperpyyaml>=1.2",
        "numpy",
        "soundfile",
    ],  # scipy comes with speechbrain
    extras_require={
        "plot": ["matplotlib"],
        "captum": ["captum"],
        "lime": ["lime"],
        # selenium drives the system's chromium in the report's browser test (.ci/run installs it)
        # pytest-xdist: the README's test command runs two workers (one thread each)
        "test": ["pytest", "pytest-xdist", "scipy", "matplotlib", "captum", "lime", "selenium"],
        "all": ["matplotlib", "captum", "lime", "pytest", "scipy"],
    },
    package_data={"speechbrain_xai": ["pretrained/*/*"]},
    entry_points={"console_scripts": ["speechbrain-xai=speechbrain_xai.cli:main"]},
)
