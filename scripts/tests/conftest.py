import os
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))

ROOT = SCRIPTS.parent

# Every audit a test starts without --work-dir/--report-dir works in this
# process's own scratch, not in BUILD/audit and BUILD/reports: meson runs
# the test files side by side, and two audits may not share a work dir.
if "FAA_WORK_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile
    _scratch = Path(tempfile.mkdtemp(prefix="faa-tests-"))
    os.environ["FAA_WORK_DIR"] = str(_scratch / "work")
    os.environ["FAA_REPORT_DIR"] = str(_scratch / "reports")
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def build_dir():
    """The Meson build directory (FAA_BUILD_DIR, else ROOT/build)."""
    d = Path(os.environ.get("FAA_BUILD_DIR", ROOT / "build")).resolve()
    need = [d / "compiler/frc", d / "interposer/libaudit.so", d / "harness/faa-harness"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(missing)} (run `make build`)")
    return d
