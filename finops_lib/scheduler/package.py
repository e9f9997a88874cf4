"""Build the Lambda deployment zip: ``python -m finops_lib.scheduler.package`` (``make lambda-package``).

The zip holds ``finops_lib`` (sources and the bundled policy file) and the
scheduler's third-party dependencies installed for the Lambda platform
(:data:`LAMBDA_DEPENDENCIES`; boto3 comes with the Lambda runtime).

Size: with pyarrow the unzipped package is 255 MB, above Lambda's 250 MB
limit (measured 2026-12-01). The scheduler's import path needs none of
pyarrow, scipy or matplotlib, except that ``finops_lib/collect/__init__.py``
imports the snapshot writer (pyarrow) eagerly; the zip therefore carries
:data:`COLLECT_INIT_STUB` in its place, so ``finops_lib.collect.carbon`` (the
Electricity Maps client the scheduler uses) loads alone.
tests/scheduler/test_lambda.py imports the handler from the extracted zip
with pyarrow, scipy and matplotlib blocked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Runtime dependencies of ``finops_lib.scheduler`` (the Lambda runtime provides boto3).
LAMBDA_DEPENDENCIES = ("pandas>=2.2,<3", "numpy>=1.26", "holidays>=0.50", "pyyaml>=6", "requests>=2.31",
                       "requests-cache>=1.2", "tzdata")
#: Replaces finops_lib/collect/__init__.py inside the zip (see the module docstring).
COLLECT_INIT_STUB = '"""Collectors (Lambda package: submodules are imported one by one, e.g. collect.carbon)."""\n'
#: Parts of finops_lib the scheduler never imports (kept out of the zip).
EXCLUDE_DIRS = ("sandbox", "bench", "style")
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
HANDLER = "finops_lib.scheduler.lambda_handler.handler"
_SKIP = ("__pycache__", ".pyc")


def build(out: Path, *, with_dependencies: bool = True) -> Path:
    """Write the zip to ``out`` atomically; returns ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "pkg"
        shutil.copytree(ROOT / "finops_lib", stage / "finops_lib", ignore=shutil.ignore_patterns(*_SKIP, "*.egg-info"))
        for d in EXCLUDE_DIRS:
            shutil.rmtree(stage / "finops_lib" / d, ignore_errors=True)
        (stage / "finops_lib" / "collect" / "__init__.py").write_text(COLLECT_INIT_STUB)
        if with_dependencies:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(stage),
                            "--platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON,
                            "--implementation", "cp", "--only-binary=:all:", *LAMBDA_DEPENDENCIES], check=True)
        tmp_zip = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(stage.rglob("*")):
                if path.is_file() and not any(s in str(path) for s in _SKIP):
                    zf.write(path, path.relative_to(stage).as_posix())
        os.replace(tmp_zip, out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "build" / "lambda" / "finops-scheduler.zip")
    p.add_argument("--no-deps", action="store_true", help="only finops_lib (dependencies from a Lambda layer)")
    args = p.parse_args(argv)
    out = build(args.out, with_dependencies=not args.no_deps)
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB); handler {HANDLER}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
