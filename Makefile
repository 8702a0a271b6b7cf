# frame-alloc-audit — the front door.  The real work is in meson.build
# (C: frc, the interposer, the harness) and scripts/audit (orchestration).
#
#   make audit   install what is missing, build, audit every fixture (CI gate)
#   make test    install what is missing, build, run every test suite
BUILD ?= build
AUDIT ?= scripts/audit --build-dir $(BUILD)
AUDIT_ARGS ?=
BENCH_ARGS ?=
MESON_TEST_ARGS ?=

.PHONY: all deps build audit test regen regen-check baseline publish mutate bench help clean

all: build

help:
	@echo "make deps      install missing Debian packages (as root) or print the apt-get line"
	@echo "make build     configure ($(BUILD)/) and build frc, the interposer and the harness"
	@echo "make audit     audit every fixture in both shapes at O0 and O3; exit status is the gate"
	@echo "make test      run every test suite (meson test)"
	@echo "make regen     rewrite generated/ goldens from frc (review the diff)"
	@echo "make baseline  record the last audit's allocating counts in reports/baseline.json"
	@echo "make publish   copy the last audit's reports to reports/<compiler>-<version>/"
	@echo "make mutate    mutation self-test: injected allocations must all fail the gate"
	@echo "make bench     benchmarks with their ratios (BENCH_ARGS=\"--only dispatch\"); build/reports/bench.json"

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

audit: build
	$(AUDIT) run $(AUDIT_ARGS)

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS)

regen: build
	$(AUDIT) regen

regen-check: build
	$(AUDIT) regen --check

baseline:
	$(AUDIT) baseline

publish:
	$(AUDIT) publish

mutate: build
	$(AUDIT) mutate

bench: build
	scripts/bench --build-dir $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
