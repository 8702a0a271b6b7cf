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
FUZZ_SECONDS ?= 300
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan
UBSAN_BUILD ?= build-ubsan
PYTHON ?= /usr/bin/python3
# Sanitizer reports are fatal: the values of meson.build's 'sanitize' test
# setup, for the two sanitized runs that are not `meson test` runs.
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/fuzz/ubsan.supp

.PHONY: all deps build install audit test regen regen-check baseline publish mutate bench fuzz test-sanitize help clean

all: build

help:
	@echo "make deps      install missing Debian packages (as root) or print the apt-get line"
	@echo "make build     configure ($(BUILD)/) and build frc, the interposer and the harness"
	@echo "make install   install libaudit.so, audit.h, audit_criterion.h, frame-alloc-audit.pc and the Rust crate for your own tests (DESTDIR=...)"
	@echo "make audit     audit every fixture in both shapes at O0 and O3; the last line names the audit's exit status (make's is 2 on any failure)"
	@echo "make test      run every test suite (meson test)"
	@echo "make regen     rewrite generated/ goldens from frc (review the diff)"
	@echo "make baseline  record the last audit's allocating counts in reports/baseline.json"
	@echo "make publish   publish the last (passing) audit as reports/<compiler>-<version>/ and regenerate reports/index.md/.html (FORCE=1 replaces, ALLOW_FAILING=1)"
	@echo "make mutate    mutation self-test: injected allocations must all fail the gate"
	@echo "make fuzz      fuzz frc's whole pipeline with libFuzzer for FUZZ_SECONDS (default 300) in $(FUZZ_BUILD)/"
	@echo "make test-sanitize  frc under ASan+UBSan, interposer and harness under UBSan, interposer under memcheck"
	@echo "make bench     every benchmark, make test from a fresh clone and scaling included (20-40 min); BENCH_ARGS=\"--only audit\" for one section"

deps:
	@scripts/deps.sh

# meson lists the pytest files when it configures (one test each): a file
# added or removed since makes `make build` reconfigure.
PYTEST_FILES = $(sort $(notdir $(wildcard scripts/tests/test_*.py)))

# (the list is written with the first setup, so a fresh build configures once)
$(BUILD)/build.ninja:
	meson setup $(BUILD) && echo "$(PYTEST_FILES)" > $(BUILD)/.pytest-files

build: deps $(BUILD)/build.ninja
	@echo "$(PYTEST_FILES)" | cmp -s - $(BUILD)/.pytest-files || { \
		meson setup --reconfigure $(BUILD) >/dev/null && echo "$(PYTEST_FILES)" > $(BUILD)/.pytest-files; }
	ninja -C $(BUILD)

# For your own tests (README, "Use it in your own tests"): libaudit.so,
# audit.h, audit_criterion.h, frame-alloc-audit.pc and the Rust crate, into
# the prefix $(BUILD) was configured with (meson's default /usr/local;
# `meson setup --reconfigure $(BUILD) --prefix=DIR` changes it), under
# DESTDIR when set.
install: build
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

# make exits 2 whenever a recipe fails, whatever the command's own status:
# the last line of `make audit` and `make test` says which status the
# audit (0 pass, 1 gate failed, 2 usage, 3 tool missing, 130/143 stopped by
# SIGINT/SIGTERM) or meson test returned.  CI that needs the audit's own
# status runs `make build`, then `scripts/audit --build-dir build run
# --strict` (README, "Exit status").
say_status = case $$status in \
	0) m="every check held";; \
	1) m="the gate failed";; \
	2) m="usage or configuration error";; \
	3) m="a required tool is missing";; \
	130) m="interrupted by SIGINT";; \
	143) m="stopped by SIGTERM";; \
	*) m="unexpected status";; \
	esac; \
	echo "make $@: scripts/audit exited $$status ($$m)"; \
	exit $$status

# --strict: a check that could not run (no Valgrind: memcheck, the second
# counter, coverage) fails the gate instead of passing as "unchecked".
audit: build
	@echo "$(AUDIT) run --strict $(AUDIT_ARGS)"; \
	status=0; $(AUDIT) run --strict $(AUDIT_ARGS) || status=$$?; \
	$(say_status)

test: build
	@echo "meson test -C $(BUILD) --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS)"; \
	status=0; meson test -C $(BUILD) --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS) || status=$$?; \
	if [ $$status -ne 0 ]; then echo "make $@: meson test exited $$status (a test failed: see the list above)"; fi; \
	exit $$status

regen: build
	$(AUDIT) regen

regen-check: build
	$(AUDIT) regen --check

baseline:
	$(AUDIT) baseline

# FORCE=1: replace an existing release report; ALLOW_FAILING=1: publish a failing run
publish:
	$(AUDIT) publish $(if $(filter 1 yes true,$(FORCE)),--force) $(if $(filter 1 yes true,$(ALLOW_FAILING)),--allow-failing)

mutate: build
	$(AUDIT) mutate

# --all: every section, the slow two included (make-test: a fresh clone's
# `make test`; scaling: 7 cold audits); BENCH_ARGS="--only NAME" picks some
bench: build
	$(AUDIT) bench --all $(BENCH_ARGS)

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)

# ASan replaces malloc, so it cannot run under the LD_PRELOAD interposer:
# frc (every compiler test, the fuzz replay, the bad-input tests) runs under
# ASan+UBSan; the interposer suite and an audit of two fixtures run in
# a UBSan-only build; the interposer test binary also runs under Valgrind
# memcheck with the preload kept.  The test setups 'sanitize' and 'memcheck'
# are in meson.build (see README, Robustness).
test-sanitize: build
	test -f $(ASAN_BUILD)/build.ninja || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --setup sanitize --print-errorlogs --num-processes 2 --suite compiler
	$(SAN_ENV) FAA_BUILD_DIR=$(ASAN_BUILD) $(PYTHON) -m pytest -q scripts/tests/test_frc_bad_input.py
	test -f $(UBSAN_BUILD)/build.ninja || meson setup $(UBSAN_BUILD) -Db_sanitize=undefined
	ninja -C $(UBSAN_BUILD)
	meson test -C $(UBSAN_BUILD) --setup sanitize --print-errorlogs --num-processes 2 --suite interposer --suite harness
	# Not --strict: this audit checks the UBSan-built harness and interposer,
	# with --valgrind off (Valgrind's checks ran in `make test`), so its
	# verdict is "PASS (unchecked: coverage, second counter, memcheck)".
	$(SAN_ENV) scripts/audit --build-dir $(UBSAN_BUILD) run --work-dir $(UBSAN_BUILD)/audit \
		--report-dir $(UBSAN_BUILD)/reports --valgrind off port_reset elevator
	# Without Valgrind the memcheck test reports SKIP (exit 77).
	meson test -C $(BUILD) --setup memcheck --print-errorlogs --suite memcheck

clean:
	rm -rf $(BUILD)
