import os
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))

ROOT = SCRIPTS.parent


@pytest.fixture(scope="session")
def build_dir():
    """The Meson build directory (FAA_BUILD_DIR, else ROOT/build)."""
    d = Path(os.environ.get("FAA_BUILD_DIR", ROOT / "build")).resolve()
    need = [d / "compiler/frc", d / "interposer/libaudit.so", d / "harness/faa-harness"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(missing)} (run `make build`)")
    return d
