"""Packages of the distribution (the rest is in pyproject.toml).

The generated modules (gen/, one per .proto) ship inside the package as
openenv_connect/_gen; importing openenv_connect puts that directory on the
import path, since they import each other as ``openenv.v1...``. Test and
benchmark fixtures (openenv/testing, openenv/bench) stay out.
"""

from pathlib import Path

from setuptools import setup

GEN = Path(__file__).resolve().parent / "gen"
FIXTURES = {"testing", "bench"}

generated = ["openenv_connect._gen"] + [
    "openenv_connect._gen." + ".".join(d.relative_to(GEN).parts)
    for d in sorted(GEN.rglob("*"))
    if d.is_dir() and d.name != "__pycache__" and not FIXTURES.intersection(d.relative_to(GEN).parts[1:2])
]

setup(
    packages=["openenv_connect", *generated],
    package_dir={"openenv_connect._gen": "gen"},
    package_data={"": ["*.pyi", "py.typed"]},
)
