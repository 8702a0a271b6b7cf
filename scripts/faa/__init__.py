"""frame-alloc-audit orchestration: variants, compile, shim, build, run, gate."""

VERSION = "0.1.0"
