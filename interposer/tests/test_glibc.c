/* Allocations made inside glibc on the caller's behalf are seen: glibc
 * calls malloc through its PLT, which LD_PRELOAD interposes. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(glibc, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

/* volatile: keeps gcc from treating strdup as a builtin it can see through */
static char *(*volatile v_strdup)(const char *) = strdup;

Test(glibc, strdup_is_one_malloc_of_the_string_length)
{
	audit.open(AUDIT_THIS_THREAD);
	char *s = v_strdup("frame-alloc-audit");
	audit.close(&c);
	cr_assert_str_eq(s, "frame-alloc-audit");
	free(s);
	expect_only(&c, AUDIT_MALLOC, 1, sizeof "frame-alloc-audit");
}

Test(glibc, fopen_and_fclose_allocate_and_free)
{
	char path[] = "/tmp/audit-glibc-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);

	audit.open(AUDIT_THIS_THREAD);
	FILE *f = fopen(path, "r");
	if (f)
		fclose(f);
	audit.close(&c);
	unlink(path);
	cr_assert_not_null(f);
	cr_assert_geq(c.allocs, 1, "fopen allocated nothing?");
	cr_assert_geq(c.frees, 1, "fclose freed nothing?");
	cr_assert_geq(c.bytes, sizeof(FILE));
}

Test(glibc, getline_with_null_buffer_allocates)
{
	char path[] = "/tmp/audit-glibc-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "one line\n", 9), 9);
	close(fd);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0); /* keep the stdio buffer out of the window */

	char *line = NULL;
	size_t cap = 0;
	audit.open(AUDIT_THIS_THREAD);
	ssize_t n = getline(&line, &cap, f);
	audit.close(&c);
	fclose(f);
	unlink(path);
	cr_assert_eq(n, 9);
	cr_assert_str_eq(line, "one line\n");
	free(line);
	cr_assert_geq(c.allocs, 1, "getline allocated nothing?");
	cr_assert_eq(c.frees, 0);
	cr_assert_geq(c.bytes, 10);
}

Test(glibc, asprintf_allocates_its_result)
{
	char *s = NULL;
	/* warm up vfprintf's lazily initialised state outside the window */
	cr_assert_gt(asprintf(&s, "%d", 1), 0);
	free(s);
	s = NULL;

	audit.open(AUDIT_THIS_THREAD);
	int n = asprintf(&s, "%s-%d", "window", 42);
	audit.close(&c);
	cr_assert_eq(n, 9);
	cr_assert_str_eq(s, "window-42");
	free(s);
	cr_assert_geq(c.allocs, 1, "asprintf allocated nothing?");
	cr_assert_geq(c.bytes, 10);
}
