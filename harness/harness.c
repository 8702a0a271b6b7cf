/*
 * harness.c — Criterion tests that measure fixture libraries per window.
 *
 * Input (environment, inherited by Criterion's re-executed workers):
 *   FAA_MANIFEST  a text file, one fixture per line:
 *                 name TAB mode TAB opt TAB library-path TAB records-path
 *                 [TAB prefix]
 *                 ('#' starts a comment line).  prefix is the fixture's
 *                 symbol prefix in the library (fixture.h), "fx_" when the
 *                 column is missing; several lines may name one library
 *                 (a bundle of fixtures) with different prefixes.
 *   LD_PRELOAD    must name interposer/libaudit.so; without it every test
 *                 fails with "interposer not loaded" (no false zero).
 *
 * Each manifest line is one parameter of fixture::audit, hence one worker
 * process and one measuring process (a library named on several lines is
 * loaded by each of them).  The worker proves the interposer counts (calibration of every
 * hooked entry point, in this-thread windows), then forks the measuring
 * process (measure.h), waits for its verdict, and only then asserts.
 *
 * Why a fork.  A Criterion 2.4.1 worker has two threads: the test's, and
 * nanomsg's I/O worker (libnanomsg's pool thread, parked in epoll_wait on
 * the IPC socket to the runner).  That thread allocates on its own
 * schedule — when the socket's pipe is added after the asynchronous
 * connect (nn_xreq_add), when it is torn down (nn_usock_term, nn_ep_term),
 * when messages arrive — so an all-threads window opened in the worker
 * could count it, and an allocation of the fixture library's own threads
 * could not be told from it.  fork() copies only the calling thread: the
 * measuring process starts with exactly one thread, any other thread in an
 * all-threads window is the fixture library's, and the records say
 * "threads": 1 (the measuring process refuses to measure otherwise).  It
 * dies with the worker (PR_SET_PDEATHSIG: Criterion's timeout kills only
 * the worker), never touches Criterion, and reports its verdict through a
 * pipe; the worker turns it into the cr_assert.  The interposer's fork
 * handler starts the child with no window open; LD_PRELOAD stays.
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "calibrate.h"
#include "fixture.h"
#include "measure.h"

#define MAX_ENTRIES 512

/* ---- manifest ------------------------------------------------------- */

static int split_tabs(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(line, "\t\n", &save); tok && n < max;
	     tok = strtok_r(NULL, "\t\n", &save))
		fields[n++] = tok;
	return n;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	size_t len = strlen(src);
	if (len >= cap)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/* Fills *e from the tab-separated fields of one manifest line (5, or 6
 * with the prefix).  Returns 0, or -1 when a field is missing or too long. */
static int parse_entry(char *line, struct faa_entry *e)
{
	char *fld[7];
	int n = split_tabs(line, fld, 7);
	if (n < 5 || n > 6 || copy_field(e->name, sizeof e->name, fld[0]) ||
	    copy_field(e->mode, sizeof e->mode, fld[1]) ||
	    copy_field(e->lib, sizeof e->lib, fld[3]) ||
	    copy_field(e->records, sizeof e->records, fld[4]) ||
	    copy_field(e->prefix, sizeof e->prefix, n == 6 ? fld[5] : FAA_FIXTURE_PREFIX))
		return -1;
	e->opt = atoi(fld[2]);
	return 0;
}

/* Reads line `want` of the manifest into *e (want < 0: only count).
 * Returns the number of entries, or -1 (message in err). */
static int manifest_read(int want, struct faa_entry *e, char *err, size_t errlen)
{
	const char *path = getenv("FAA_MANIFEST");
	if (!path || !*path) {
		snprintf(err, errlen, "FAA_MANIFEST is not set: run the harness through `scripts/audit run`");
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open manifest %s: %s", path, strerror(errno));
		return -1;
	}
	char line[5 * FAA_FIELD_MAX + 64];
	int n = 0, lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n == want && parse_entry(line, e) != 0) {
			snprintf(err, errlen, "%s:%d: expected 5 or 6 tab-separated fields "
				 "(fixture, mode, opt, library, records[, prefix])", path, lineno);
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	if (n > MAX_ENTRIES) {
		snprintf(err, errlen, "%s: %d entries, at most %d", path, n, MAX_ENTRIES);
		return -1;
	}
	return n;
}

/* ---- the worker's own calibration ----------------------------------- */

/* Every worker, before anything is measured.  This-thread windows: the
 * worker's nanomsg thread may allocate at any time. */
static void calibrate(void)
{
	struct audit_api api;
	if (audit_api_resolve(&api) != 0)
		cr_assert_fail("interposer not loaded: audit_loaded() is not "
			       "resolvable; run with LD_PRELOAD=.../libaudit.so "
			       "(refusing to report counts that would read 0)");
	struct faa_calibration cal;
	faa_calibrate(&api, AUDIT_THIS_THREAD, &cal);
	cr_assert(cal.ok, "%s (in the Criterion worker)", cal.message);
}

/* ---- the measuring process ------------------------------------------ */

typedef void (*measuring_fn)(const void *arg, struct faa_verdict *v);

static int write_all(int fd, const void *buf, size_t len)
{
	for (const char *p = buf; len;) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static size_t read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Runs fn in a forked, single-threaded process and stores its verdict in
 * *v.  Returns 0, or -1 when the process gave no verdict (message in err). */
static int in_measuring_process(measuring_fn fn, const void *arg, struct faa_verdict *v,
				char *err, size_t errlen)
{
	int fds[2];
	memset(v, 0, sizeof *v);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL); /* or the child's exit would not, but its stdio could repeat it */
	pid_t worker = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		/* The signal follows the forking thread, which is the worker's
		 * main thread: it lives as long as the worker does. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != worker)
			_exit(127);
		struct faa_verdict cv = { 0 };
		fn(arg, &cv);
		cv.first[sizeof cv.first - 1] = '\0';
		/* _exit: Criterion's atexit handlers would talk to a runner
		 * through a nanomsg thread this process does not have. */
		_exit(write_all(fds[1], &cv, sizeof cv) == 0 ? 0 : 126);
	}
	close(fds[1]);
	size_t got = read_all(fds[0], v, sizeof *v);
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "the measuring process (pid %ld) was killed by signal %d (%s)",
			 (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *v) {
		snprintf(err, errlen, "the measuring process (pid %ld) exited with status %d "
			 "without a verdict", (long)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	v->first[sizeof v->first - 1] = '\0';
	return 0;
}

static void measure_entry(const void *arg, struct faa_verdict *v)
{
	faa_measure(arg, v);
}

/* The measuring process's own calibration, in the all-threads windows it
 * measures with, and its thread count. */
static void calibrate_measuring(const void *arg, struct faa_verdict *v)
{
	(void)arg;
	int threads = faa_count_threads();
	struct audit_api api;
	struct faa_calibration cal;
	if (threads != 1)
		faa_fail(v, "the measuring process has %d thread(s), expected 1", threads);
	if (audit_api_resolve(&api) != 0)
		faa_fail(v, "interposer not loaded in the measuring process");
	else if (!faa_calibrate(&api, AUDIT_ALL_THREADS, &cal))
		faa_fail(v, "%s (in the measuring process)", cal.message);
}

/* ---- Criterion entry points ----------------------------------------- */

ParameterizedTestParameters(fixture, audit)
{
	static int idx[MAX_ENTRIES];
	char err[512];
	int n = manifest_read(-1, NULL, err, sizeof err);
	if (n <= 0) {
		/* One parameter that fails with the reason: never zero tests. */
		idx[0] = -1;
		return cr_make_param_array(int, idx, 1);
	}
	for (int i = 0; i < n; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, (size_t)n);
}

ParameterizedTest(int *index, fixture, audit, .init = calibrate, .timeout = 600)
{
	static struct faa_entry e;
	static struct faa_verdict v;
	char err[FAA_FIELD_MAX + 128] = "";
	int n = manifest_read(*index, &e, err, sizeof err);
	cr_assert(n > 0 && *index >= 0, "no fixture to audit: %s",
		  err[0] ? err : "the manifest lists no fixture library");
	int rc = in_measuring_process(measure_entry, &e, &v, err, sizeof err);
	cr_assert(rc == 0, "%s %s O%d: %s (records in %s)", e.name, e.mode, e.opt, err, e.records);
	cr_assert(v.failures == 0, "%s (%d failure(s) in all; records in %s)",
		  v.first, v.failures, e.records);
}

/* A worker that cannot prove the interposer counts must never pass, even
 * when the manifest is empty; nor may a measuring process. */
Test(harness, calibration, .init = calibrate)
{
	static struct faa_verdict v;
	char err[256] = "";
	cr_assert(in_measuring_process(calibrate_measuring, NULL, &v, err, sizeof err) == 0,
		  "%s", err);
	cr_assert(v.failures == 0, "%s", v.first);
}
