/* Memory asked of the OS through libc (mmap, mmap64, __mmap, mremap,
 * munmap, __munmap, brk, sbrk, __sbrk, and syscall() with SYS_mmap,
 * SYS_mremap, SYS_munmap or SYS_brk) counts as its own kind: in calls[]
 * and os, never in allocs, bytes or live_peak; in the fast window's
 * allocs.  Every other syscall() is forwarded untouched and uncounted. */
#include "common.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

TestSuite(os, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* ---- each entry point, once --------------------------------------------- */

Test(os, mmap_counts_once_as_mmap) { expect_entry_counts_once("mmap"); }
Test(os, mmap64_counts_once_as_mmap) { expect_entry_counts_once("mmap64"); }
Test(os, libc_mmap_counts_once_as_mmap) { expect_entry_counts_once("__mmap"); }
Test(os, mremap_counts_once_as_mremap) { expect_entry_counts_once("mremap"); }
Test(os, munmap_counts_once_as_munmap) { expect_entry_counts_once("munmap"); }
Test(os, libc_munmap_counts_once_as_munmap) { expect_entry_counts_once("__munmap"); }
Test(os, brk_counts_once_as_brk) { expect_entry_counts_once("brk"); }
Test(os, sbrk_counts_once_as_sbrk) { expect_entry_counts_once("sbrk"); }
Test(os, libc_sbrk_counts_once_as_sbrk) { expect_entry_counts_once("__sbrk"); }
Test(os, syscall_mmap_counts_once_as_mmap) { expect_entry_counts_once("syscall(SYS_mmap)"); }
Test(os, syscall_mremap_counts_once_as_mremap) { expect_entry_counts_once("syscall(SYS_mremap)"); }
Test(os, syscall_munmap_counts_once_as_munmap) { expect_entry_counts_once("syscall(SYS_munmap)"); }
Test(os, syscall_brk_counts_once_as_brk) { expect_entry_counts_once("syscall(SYS_brk)"); }

/* ---- what is and is not an OS call -------------------------------------- */

/* A file of two pages: "A..." then "B...". */
static int two_page_file(void)
{
	char path[] = "/tmp/audit-os-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	size_t pg = page_size();
	char *buf = malloc(2 * pg);
	cr_assert_not_null(buf);
	memset(buf, 'A', pg);
	memset(buf + pg, 'B', pg);
	cr_assert_eq(write(fd, buf, 2 * pg), (ssize_t)(2 * pg));
	free(buf);
	return fd;
}

Test(os, file_backed_mmap_counts_as_mmap)
{
	int fd = two_page_file();
	audit.open(AUDIT_THIS_THREAD);
	char *p = v_mmap(NULL, page_size(), PROT_READ, MAP_PRIVATE, fd, 0);
	audit.close(&c);
	close(fd);
	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	cr_assert_eq(p[0], 'A');
	v_munmap(p, page_size());
	expect_only(&c, AUDIT_MMAP, 1, 0);
}

/* The sixth argument (the offset) reaches the kernel: the mapping shows
 * the file's second page. */
Test(os, syscall_mmap_forwards_all_six_arguments)
{
	int fd = two_page_file();
	audit.open(AUDIT_THIS_THREAD);
	long r = v_syscall(SYS_mmap, 0L, (long)page_size(), (long)PROT_READ,
			   (long)MAP_PRIVATE, (long)fd, (long)page_size());
	audit.close(&c);
	close(fd);
	cr_assert_neq(r, -1L, "syscall(SYS_mmap): %s", strerror(errno));
	cr_assert_eq(((char *)r)[0], 'B', "the offset did not arrive");
	v_munmap((void *)r, page_size());
	expect_only(&c, AUDIT_MMAP, 1, 0);
}

Test(os, failed_mmap_counts_once_and_keeps_its_errno)
{
	errno = 0;
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_mmap(NULL, 0, RW, ANON, -1, 0); /* length 0: EINVAL */
	int err = errno;
	audit.close(&c);
	cr_assert_eq(p, MAP_FAILED);
	cr_assert_eq(err, EINVAL, "errno = %d", err);
	expect_only(&c, AUDIT_MMAP, 1, 0);
}

Test(os, failed_syscall_munmap_returns_minus_one_with_errno_and_counts_once)
{
	errno = 0;
	audit.open(AUDIT_THIS_THREAD);
	long r = v_syscall(SYS_munmap, 1L, (long)page_size()); /* misaligned */
	int err = errno;
	audit.close(&c);
	cr_assert_eq(r, -1L);
	cr_assert_eq(err, EINVAL, "errno = %d", err);
	expect_only(&c, AUDIT_MUNMAP, 1, 0);
}

static void expect_nothing(const struct audit_counts *k, const struct audit_fast_window *fw)
{
	for (unsigned i = 0; i < AUDIT_KIND_COUNT; i++)
		cr_assert_eq(k->calls[i], 0, "calls[%s] = %llu", audit.kind_name(i),
			     (unsigned long long)k->calls[i]);
	cr_assert_eq(k->allocs + k->frees + k->os + k->bytes, 0);
	cr_assert_eq(fw->allocs + fw->frees, 0, "fast window read %llu/%llu",
		     (unsigned long long)fw->allocs, (unsigned long long)fw->frees);
}

Test(os, syscall_getpid_is_forwarded_and_not_counted)
{
	struct audit_fast_window fw;
	cr_assert_eq(audit_fast_resolve(&fw), 0);
	audit.open(AUDIT_THIS_THREAD);
	audit_fast_open(&fw);
	long pid = v_syscall(SYS_getpid);
	audit_fast_close(&fw);
	audit.close(&c);
	cr_assert_eq(pid, (long)getpid());
	expect_nothing(&c, &fw);
}

/* copy_file_range takes six arguments; each one shows in the result
 * (offsets, length, and flags, which must arrive as 0). */
Test(os, uncounted_syscall_forwards_all_six_arguments)
{
	int in = two_page_file(), out = two_page_file();
	loff_t off_in = (loff_t)page_size() - 3, off_out = 5;
	struct audit_fast_window fw;
	char got[8] = {0};

	cr_assert_eq(audit_fast_resolve(&fw), 0);
	audit.open(AUDIT_THIS_THREAD);
	audit_fast_open(&fw);
	long n = v_syscall(SYS_copy_file_range, (long)in, (long)&off_in,
			   (long)out, (long)&off_out, 6L, 0L);
	int err = errno;
	audit_fast_close(&fw);
	audit.close(&c);
	cr_assert_eq(n, 6, "copy_file_range returned %ld: %s", n, strerror(err));
	cr_assert_eq(off_in, (loff_t)page_size() + 3);
	cr_assert_eq(off_out, 11);
	cr_assert_eq(pread(out, got, 7, 4), 7);
	cr_assert_str_eq(got, "AAAABBB");
	close(in);
	close(out);
	expect_nothing(&c, &fw);
}

/* glibc's malloc maps a large block itself, internally: the caller made
 * one malloc call, and that is what counts. */
Test(os, large_malloc_counts_as_one_malloc_not_as_mmap)
{
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_malloc(8 << 20);
	audit.close(&c);
	v_free(p);
	cr_assert_not_null(p);
	expect_only(&c, AUDIT_MALLOC, 1, 8 << 20);
}

Test(os, os_sums_the_os_kinds_and_allocs_leaves_them_out)
{
	size_t pg = page_size();
	audit.open(AUDIT_THIS_THREAD);
	void *b = v_malloc(10);
	size_t u = v_malloc_usable_size(b);
	void *p = v_mmap(NULL, pg, RW, ANON, -1, 0);
	void *q = v_mremap(p, pg, 2 * pg, MREMAP_MAYMOVE);
	int rc = v_munmap(q, 2 * pg);
	int brc = v_brk(NULL);
	void *cur = v_sbrk(0);
	v_free(b);
	audit.close(&c);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_neq(q, MAP_FAILED);
	cr_assert_eq(rc, 0);
	cr_assert_eq(brc, 0);
	cr_assert_neq(cur, (void *)-1);
	for (unsigned k = AUDIT_HEAP_KINDS; k < AUDIT_MEMORY_KINDS; k++)
		cr_assert_eq(c.calls[k], 1, "calls[%s] = %llu", audit.kind_name(k),
			     (unsigned long long)c.calls[k]);
	cr_assert_eq(c.os, AUDIT_MEMORY_KINDS - AUDIT_HEAP_KINDS);
	cr_assert_eq(c.blocking, 0);
	cr_assert_eq(c.allocs, 1, "allocs = %llu", (unsigned long long)c.allocs);
	cr_assert_eq(c.frees, 1);
	cr_assert_eq(c.bytes, 10, "OS calls added to bytes: %llu", (unsigned long long)c.bytes);
	cr_assert_eq(c.live_peak, u, "OS calls moved live_peak: %llu", (unsigned long long)c.live_peak);
}

Test(os, fast_window_counts_os_calls_as_allocs)
{
	struct audit_fast_window fw;
	size_t pg = page_size();
	cr_assert_eq(audit_fast_resolve(&fw), 0);
	audit_fast_open(&fw);
	void *p = v_mmap(NULL, pg, RW, ANON, -1, 0);
	void *q = v_mremap(p, pg, 2 * pg, MREMAP_MAYMOVE);
	v_munmap(q, 2 * pg);
	v_brk(NULL);
	v_libc_sbrk(0);
	long r = v_syscall(SYS_mmap, 0L, (long)pg, (long)RW, (long)ANON, -1L, 0L);
	v_syscall(SYS_getpid);
	audit_fast_close(&fw);
	cr_assert_neq(r, -1L);
	v_munmap((void *)r, pg);
	cr_assert_eq(fw.allocs, 6, "allocs = %llu", (unsigned long long)fw.allocs);
	cr_assert_eq(fw.frees, 0);
}

/* ---- stacks and threads -------------------------------------------------- */

void *volatile os_sink;

__attribute__((noipa)) void *os_site_mmap(size_t n)
{
	void *p = v_mmap(NULL, n, RW, ANON, -1, 0);
	os_sink = p;
	return p;
}

Test(os, capture_names_the_caller_of_mmap)
{
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	void *p = os_site_mmap(page_size());
	audit.close(&c);
	cr_assert_neq(p, MAP_FAILED);
	v_munmap(p, page_size());
	Dl_info info;
	cr_assert_eq(c.first_kind, AUDIT_MMAP);
	cr_assert_gt(c.nframes, 0);
	cr_assert(dladdr((void *)(c.frames[0] - 1), &info) && info.dli_sname);
	cr_assert_str_eq(info.dli_sname, "os_site_mmap");
	cr_assert_eq(c.first_tid, (int32_t)gettid());
}

struct mapper {
	sem_t go, done;
	pid_t tid;
};

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;
	m->tid = gettid();
	sem_wait(&m->go);
	void *p = v_mmap(NULL, page_size(), RW, ANON, -1, 0);
	if (p != MAP_FAILED)
		v_munmap(p, page_size());
	sem_post(&m->done);
	/* exit only after the window: a dying thread frees its own state */
	sem_wait(&m->go);
	return NULL;
}

struct other_thread_result {
	int ok;
	pid_t self, mapper;
	struct audit_counts all;
};

static void other_thread_maps(void *arg)
{
	struct other_thread_result *r = arg;
	struct mapper m;
	pthread_t t;

	if (sem_init(&m.go, 0, 0) || sem_init(&m.done, 0, 0) ||
	    pthread_create(&t, NULL, mapper_main, &m))
		return;
	r->self = gettid();
	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	sem_post(&m.go);
	sem_wait(&m.done);
	audit.close(&r->all);
	sem_post(&m.go);
	pthread_join(t, NULL);
	r->mapper = m.tid;
	r->ok = 1;
}

/* In a forked child nothing else runs, so the counts are exact. */
Test(os, all_threads_window_counts_another_threads_mmap_and_munmap)
{
	struct other_thread_result r;
	run_in_child(other_thread_maps, &r, sizeof r);
	cr_assert(r.ok, "could not start the mapping thread");
	cr_assert_eq(r.all.calls[AUDIT_MMAP], 1);
	cr_assert_eq(r.all.calls[AUDIT_MUNMAP], 1);
	cr_assert_eq(r.all.os, 2);
	cr_assert_eq(r.all.allocs + r.all.frees, 0);
	/* The semaphores are blocking calls: the opener's sem_wait counts;
	 * the mapper's first counts when it began after the open (then it
	 * returned, and counted, first). */
	uint64_t waits = r.all.calls[AUDIT_SEM_WAIT];
	cr_assert(waits == 1 || waits == 2, "%llu sem_wait", (unsigned long long)waits);
	cr_assert_eq(r.all.blocking, waits);
	cr_assert_eq(r.all.first_kind, waits == 2 ? AUDIT_SEM_WAIT : AUDIT_MMAP);
	/* one site per call: the sem_waits differ in thread and stack */
	cr_assert_eq(r.all.nsites, 2 + waits, "%u sites", r.all.nsites);
	cr_assert_eq(r.all.sites_lost, 0);
	cr_assert_eq(r.all.first_tid, r.mapper, "first_tid %d, mapper %d",
		     (int)r.all.first_tid, (int)r.mapper);
	cr_assert_eq(r.all.opener_tid, r.self);
	cr_assert_neq(r.all.first_tid, r.all.opener_tid);
}
