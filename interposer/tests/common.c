/* common.c — calibration and helpers shared by the interposer tests. */
#include "common.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct audit_api audit;

volatile size_t v_huge = SIZE_MAX / 2 + 1;

void audit_calibrate(void)
{
	struct audit_counts c;

	if (audit_api_resolve(&audit) != 0)
		cr_assert_fail("interposer not loaded: audit_loaded/audit_window_* "
			       "not found in the process; run with "
			       "LD_PRELOAD=<build>/interposer/libaudit.so");
	audit.open(AUDIT_THIS_THREAD);
	v_free(v_malloc(24));
	int rc = audit.close(&c);
	if (rc != 0 || c.calls[AUDIT_MALLOC] != 1 || c.calls[AUDIT_FREE] != 1 ||
	    c.allocs != 1 || c.frees != 1)
		cr_assert_fail("interposer not loaded or not counting: calibration "
			       "window read rc=%d malloc=%llu free=%llu allocs=%llu "
			       "frees=%llu, expected 0/1/1/1/1", rc,
			       (unsigned long long)c.calls[AUDIT_MALLOC],
			       (unsigned long long)c.calls[AUDIT_FREE],
			       (unsigned long long)c.allocs,
			       (unsigned long long)c.frees);
}

void expect_only(const struct audit_counts *c, enum audit_kind kind,
		 uint64_t n, uint64_t bytes)
{
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
		cr_assert_eq(c->calls[k], k == kind ? n : 0,
			     "calls[%s] = %llu, expected %llu",
			     audit.kind_name(k), (unsigned long long)c->calls[k],
			     (unsigned long long)(k == kind ? n : 0));
	bool heap = kind < AUDIT_HEAP_KINDS;
	cr_assert_eq(c->allocs, heap && kind != AUDIT_FREE ? n : 0,
		     "allocs = %llu", (unsigned long long)c->allocs);
	cr_assert_eq(c->frees, kind == AUDIT_FREE ? n : 0,
		     "frees = %llu", (unsigned long long)c->frees);
	cr_assert_eq(c->os, heap ? 0 : n, "os = %llu", (unsigned long long)c->os);
	cr_assert_eq(c->bytes, bytes, "bytes = %llu, expected %llu",
		     (unsigned long long)c->bytes, (unsigned long long)bytes);
}

int window_errno;

void expect_one_block(const struct audit_counts *c, void *p, size_t align,
		      enum audit_kind kind, uint64_t bytes)
{
	v_free(p);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % align, 0);
	expect_only(c, kind, 1, bytes);
}

void expect_failed(const struct audit_counts *c, void *p, int err,
		   enum audit_kind kind, uint64_t bytes)
{
	cr_assert_null(p);
	cr_assert_eq(window_errno, err, "errno = %d", window_errno);
	expect_only(c, kind, 1, bytes);
}

void run_in_child(void (*fn)(void *result), void *result, size_t size)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		alarm(20); /* a hung child must not hang the worker */
		memset(result, 0, size);
		fn(result);
		ssize_t w = write(fds[1], result, size);
		_exit(w == (ssize_t)size ? 0 : 3);
	}
	close(fds[1]);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fds[0], (char *)result + got, size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid failed");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child failed (status 0x%x)", status);
	cr_assert_eq(got, size, "child sent %zu of %zu bytes", got, size);
}

void expect_entry_counts_once(const char *fn)
{
	const struct entry *e = entry_find(fn);
	struct audit_fast_window fast;
	struct entry_result r;
	char msg[256];

	cr_assert_not_null(e, "no entry point %s in entries.c", fn);
	cr_assert_eq(audit_fast_resolve(&fast), 0,
		     "interposer not loaded: audit_thread_state()");
	entry_run(e, &audit, AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK, &fast, &r);
	cr_assert(entry_check(e, &r, AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK, 1,
			      &audit, msg, sizeof msg), "%s", msg);
}
