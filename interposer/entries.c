/* entries.c — the table of entries.h: every hooked entry point, called once. */
#define _GNU_SOURCE
/* The symbol mmap, not the mmap64 that <sys/mman.h> substitutes under
 * -D_FILE_OFFSET_BITS=64 (which Meson passes): each name is its own hook. */
#undef _FILE_OFFSET_BITS
#include "entries.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* glibc exports these without declaring them; weak: see entries.h. */
extern void *__libc_malloc(size_t) __attribute__((weak));
extern void *__libc_calloc(size_t, size_t) __attribute__((weak));
extern void *__libc_realloc(void *, size_t) __attribute__((weak));
extern void *__libc_reallocarray(void *, size_t, size_t) __attribute__((weak));
extern void __libc_free(void *) __attribute__((weak));
extern void *__libc_memalign(size_t, size_t) __attribute__((weak));
extern void *__libc_valloc(size_t) __attribute__((weak));
extern void *__libc_pvalloc(size_t) __attribute__((weak));
extern void *__mmap(void *, size_t, int, int, int, off_t) __attribute__((weak));
extern int __munmap(void *, size_t) __attribute__((weak));
extern void *__sbrk(intptr_t) __attribute__((weak));

size_t page_size(void)
{
	static size_t pg;
	if (!pg)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	return pg;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* e's entry point as a function of type T (one volatile read of e->sym). */
#define SYM(e, T) ((T)(e)->sym)

typedef void *(*alloc_fn)(size_t);
typedef void *(*alloc2_fn)(size_t, size_t); /* calloc(n, size), memalign(align, size) */
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*brk_fn)(void *);
typedef void *(*sbrk_fn)(intptr_t);
typedef long (*syscall_fn)(long, ...);

/* ---- setup / cleanup (outside the window) ------------------------------- */

static void *small_block(void)
{
	return malloc(8);
}

static void *one_page(void)
{
	void *p = mmap(NULL, page_size(), RW, ANON, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void release_block(void *p)
{
	free(p);
}

static void unmap_one(void *p)
{
	if (p)
		munmap(p, page_size());
}

static void unmap_two(void *p)
{
	if (p)
		munmap(p, 2 * page_size());
}

static int ptr_rc(void *p, void **out)
{
	*out = p;
	return p ? 0 : -1;
}

static int map_rc(void *p, void **out)
{
	*out = p == MAP_FAILED ? NULL : p;
	return p == MAP_FAILED ? -1 : 0;
}

/* ---- heap calls (each requests 24 bytes; aligned_alloc 64) -------------- */

typedef const struct entry E;

static int c_malloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc_fn)(24), out); }
static int c_calloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(3, 8), out); }
static int c_realloc(E *e, void *in, void **out) { return ptr_rc(SYM(e, realloc_fn)(in, 24), out); }
static int c_reallocarray(E *e, void *in, void **out) { return ptr_rc(SYM(e, reallocarray_fn)(in, 3, 8), out); }
static int c_free(E *e, void *in, void **out) { SYM(e, free_fn)(in); *out = NULL; return 0; }
static int c_aligned_alloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(64, 64), out); }
static int c_memalign(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(64, 24), out); }

static int c_posix_memalign(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	int rc = SYM(e, posix_memalign_fn)(out, 64, 24);
	if (rc)
		errno = rc;
	return rc ? -1 : 0;
}

/* ---- OS calls ----------------------------------------------------------- */

/* brk(NULL), sbrk(0) and the brk system call with 0 only read the current
 * break (the kernel leaves it alone below its start): safe next to
 * glibc's malloc, which owns the break, even on a threaded process. */

static int c_mmap(E *e, void *in, void **out) { (void)in; return map_rc(SYM(e, mmap_fn)(NULL, page_size(), RW, ANON, -1, 0), out); }
static int c_mremap(E *e, void *in, void **out) { return map_rc(SYM(e, mremap_fn)(in, page_size(), 2 * page_size(), MREMAP_MAYMOVE), out); }
static int c_munmap(E *e, void *in, void **out) { *out = NULL; return SYM(e, munmap_fn)(in, page_size()); }
static int c_brk(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, brk_fn)(NULL); }

static int c_sbrk(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	return SYM(e, sbrk_fn)(0) == (void *)-1 ? -1 : 0;
}

static int c_sys_mmap(E *e, void *in, void **out)
{
	(void)in;
	long r = SYM(e, syscall_fn)(SYS_mmap, 0L, (long)page_size(), (long)RW, (long)ANON, -1L, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_mremap(E *e, void *in, void **out)
{
	long r = SYM(e, syscall_fn)(SYS_mremap, (long)in, (long)page_size(),
				    (long)(2 * page_size()), (long)MREMAP_MAYMOVE, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_munmap(E *e, void *in, void **out)
{
	*out = NULL;
	return SYM(e, syscall_fn)(SYS_munmap, (long)in, (long)page_size()) == -1 ? -1 : 0;
}

static int c_sys_brk(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	return SYM(e, syscall_fn)(SYS_brk, 0L) == -1 ? -1 : 0;
}

/* ---- blocking calls ----------------------------------------------------- */

/* Each returns at once: an uncontended lock, a zero sleep, a wait whose
 * deadline has passed, or a call on a bad descriptor (EBADF).  A call
 * "succeeds" (returns 0) when it gave exactly that answer; it counts
 * whatever it returns.  The objects live in one static block set up
 * outside the window (the calibration is not thread-safe anyway). */
static struct {
	pthread_mutex_t m, unowned; /* unowned: error-checking, never locked */
	pthread_rwlock_t rw;
	pthread_cond_t cv;
	sem_t sem;
	struct timespec soon, past; /* now + 10 s, and the epoch */
	int word;
} so;

static void *sync_objects(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&so.unowned, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutex_init(&so.m, NULL);
	pthread_rwlock_init(&so.rw, NULL);
	pthread_cond_init(&so.cv, NULL);
	sem_init(&so.sem, 0, 1);
	clock_gettime(CLOCK_REALTIME, &so.soon);
	so.soon.tv_sec += 10;
	so.word = 0;
	return &so;
}

/* The condition-variable wait needs the mutex held. */
static void *held_mutex(void)
{
	sync_objects();
	pthread_mutex_lock(&so.m);
	return &so;
}

static void unlock_mutex(void *p) { (void)p; pthread_mutex_unlock(&so.m); }
static void unlock_rwlock(void *p) { (void)p; pthread_rwlock_unlock(&so.rw); }
static void close_fd(void *p) { close((int)(intptr_t)p - 1); }

/* 0 when rc (an error number, as pthread returns them) is `want`. */
static int want_rc(int rc, int want, void *in, void **out)
{
	*out = rc == 0 ? in : NULL;
	if (rc == want)
		return 0;
	errno = rc ? rc : EINVAL;
	return -1;
}

/* 0 when a libc-convention call failed with EBADF (or returned ok). */
static int ebadf(long r, long ok)
{
	if (r == ok || (r == -1 && errno == EBADF))
		return 0;
	if (r != -1)
		errno = EINVAL;
	return -1;
}

static int fd_rc(int fd, void **out)
{
	*out = fd >= 0 ? (void *)(intptr_t)(fd + 1) : NULL;
	return fd >= 0 ? 0 : -1;
}

typedef int (*lock_fn)(void *);
typedef int (*timedlock_fn)(void *, const struct timespec *);
typedef int (*cond_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*condt_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*join_fn)(pthread_t, void **);
typedef int (*sleep_fn)(const struct timespec *, struct timespec *);
typedef int (*csleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
typedef int (*usleep_fn)(useconds_t);
typedef unsigned (*ssleep_fn)(unsigned);
typedef ssize_t (*io_fn)(int, void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*epoll_fn)(int, struct epoll_event *, int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*msg_fn)(int, struct msghdr *, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef int (*fsync_fn)(int);

static int c_mutex(E *e, void *in, void **out) { return want_rc(SYM(e, lock_fn)(&so.m), 0, in, out); }
static int c_mutex_timed(E *e, void *in, void **out) { return want_rc(SYM(e, timedlock_fn)(&so.m, &so.soon), 0, in, out); }
static int c_rwlock(E *e, void *in, void **out) { return want_rc(SYM(e, lock_fn)(&so.rw), 0, in, out); }
static int c_rwlock_timed(E *e, void *in, void **out) { return want_rc(SYM(e, timedlock_fn)(&so.rw, &so.soon), 0, in, out); }
/* glibc's wait unlocks the mutex first: an unowned error-checking one
 * makes it return EPERM at once, having waited for nothing. */
static int c_cond_wait(E *e, void *in, void **out) { (void)in; *out = NULL; return want_rc(SYM(e, cond_fn)(&so.cv, &so.unowned), EPERM, NULL, out); }
/* A deadline in the past: ETIMEDOUT at once, the mutex held again. */
static int c_cond_timed(E *e, void *in, void **out)
{
	int rc = want_rc(SYM(e, condt_fn)(&so.cv, &so.m, &so.past), ETIMEDOUT, in, out);
	*out = in; /* cleanup unlocks the mutex, held whatever the answer */
	return rc;
}
static int c_sem(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, lock_fn)(&so.sem), 0); }
static int c_sem_timed(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, timedlock_fn)(&so.sem, &so.soon), 0); }
/* Joining oneself is refused (EDEADLK) without waiting. */
static int c_join(E *e, void *in, void **out) { (void)in; *out = NULL; return want_rc(SYM(e, join_fn)(pthread_self(), NULL), EDEADLK, NULL, out); }
static int c_nanosleep(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, sleep_fn)(&(struct timespec){ 0, 0 }, NULL); }
static int c_clock_nanosleep(E *e, void *in, void **out) { (void)in; *out = NULL; return want_rc(SYM(e, csleep_fn)(CLOCK_MONOTONIC, 0, &(struct timespec){ 0, 0 }, NULL), 0, NULL, out); }
static int c_usleep(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, usleep_fn)(0); }
static int c_sleep(E *e, void *in, void **out) { (void)in; *out = NULL; return (int)SYM(e, ssleep_fn)(0); }
static int c_futex(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, syscall_fn)(SYS_futex, &so.word, (long)FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L), 0); }
static int c_read(E *e, void *in, void **out) { char b[1]; (void)in; *out = NULL; return ebadf(SYM(e, io_fn)(-1, b, 1), 0); }
static int c_write(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, io_fn)(-1, (void *)"", 0), 0); }
static int c_open(E *e, void *in, void **out) { (void)in; return fd_rc(SYM(e, open_fn)("/dev/null", O_RDONLY | O_CLOEXEC), out); }
static int c_openat(E *e, void *in, void **out) { (void)in; return fd_rc(SYM(e, openat_fn)(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC), out); }
static int c_poll(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, poll_fn)(NULL, 0, 0); }
static int c_select(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, select_fn)(0, NULL, NULL, NULL, &(struct timeval){ 0, 0 }); }
static int c_epoll_wait(E *e, void *in, void **out) { struct epoll_event ev; (void)in; *out = NULL; return ebadf(SYM(e, epoll_fn)(-1, &ev, 1, 0), 0); }
static int c_accept(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, accept_fn)(-1, NULL, NULL), 0); }
static int c_accept4(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, accept4_fn)(-1, NULL, NULL, 0), 0); }
static int c_connect(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, connect_fn)(-1, NULL, 0), 0); }
static int c_recv(E *e, void *in, void **out) { char b[1]; (void)in; *out = NULL; return ebadf(SYM(e, recv_fn)(-1, b, 1, 0), 0); }
static int c_recvfrom(E *e, void *in, void **out) { char b[1]; (void)in; *out = NULL; return ebadf(SYM(e, recvfrom_fn)(-1, b, 1, 0, NULL, NULL), 0); }
static int c_msg(E *e, void *in, void **out) { struct msghdr m = { 0 }; (void)in; *out = NULL; return ebadf(SYM(e, msg_fn)(-1, &m, 0), 0); }
static int c_send(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, recv_fn)(-1, (void *)"", 0, 0), 0); }
static int c_sendto(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, sendto_fn)(-1, "", 0, 0, NULL, 0), 0); }
static int c_fsync(E *e, void *in, void **out) { (void)in; *out = NULL; return ebadf(SYM(e, fsync_fn)(-1), 0); }

/* ---- the table ---------------------------------------------------------- */

/* A heap row: fn, kind, bytes, what the call works on, how it is called. */
#define HEAP(fn, kind, bytes, setup, call)                                     \
	{ #fn, AUDIT_##kind, bytes, (void (*)(void))fn, setup, call, release_block }
/* An OS row: fn (as named), the symbol, kind, setup, call, cleanup. */
#define OS(name, sym, kind, setup, call, cleanup)                              \
	{ name, AUDIT_##kind, 0, (void (*)(void))sym, setup, call, cleanup }

const struct entry entries[] = {
	HEAP(malloc, MALLOC, 24, NULL, c_malloc),
	HEAP(calloc, CALLOC, 24, NULL, c_calloc),
	HEAP(realloc, REALLOC, 24, small_block, c_realloc),
	HEAP(reallocarray, REALLOCARRAY, 24, small_block, c_reallocarray),
	HEAP(free, FREE, 0, small_block, c_free),
	HEAP(posix_memalign, POSIX_MEMALIGN, 24, NULL, c_posix_memalign),
	HEAP(aligned_alloc, ALIGNED_ALLOC, 64, NULL, c_aligned_alloc),
	HEAP(memalign, MEMALIGN, 24, NULL, c_memalign),
	HEAP(valloc, VALLOC, 24, NULL, c_malloc),
	HEAP(pvalloc, PVALLOC, 24, NULL, c_malloc),

	HEAP(__libc_malloc, MALLOC, 24, NULL, c_malloc),
	HEAP(__libc_calloc, CALLOC, 24, NULL, c_calloc),
	HEAP(__libc_realloc, REALLOC, 24, small_block, c_realloc),
	HEAP(__libc_reallocarray, REALLOCARRAY, 24, small_block, c_reallocarray),
	HEAP(__libc_free, FREE, 0, small_block, c_free),
	HEAP(__libc_memalign, MEMALIGN, 24, NULL, c_memalign),
	HEAP(__libc_valloc, VALLOC, 24, NULL, c_malloc),
	HEAP(__libc_pvalloc, PVALLOC, 24, NULL, c_malloc),

	OS("mmap", mmap, MMAP, NULL, c_mmap, unmap_one),
	OS("mmap64", mmap64, MMAP, NULL, c_mmap, unmap_one),
	OS("__mmap", __mmap, MMAP, NULL, c_mmap, unmap_one),
	OS("mremap", mremap, MREMAP, one_page, c_mremap, unmap_two),
	OS("munmap", munmap, MUNMAP, one_page, c_munmap, unmap_one),
	OS("__munmap", __munmap, MUNMAP, one_page, c_munmap, unmap_one),
	OS("brk", brk, BRK, NULL, c_brk, NULL),
	OS("sbrk", sbrk, SBRK, NULL, c_sbrk, NULL),
	OS("__sbrk", __sbrk, SBRK, NULL, c_sbrk, NULL),
	OS("syscall(SYS_mmap)", syscall, MMAP, NULL, c_sys_mmap, unmap_one),
	OS("syscall(SYS_mremap)", syscall, MREMAP, one_page, c_sys_mremap, unmap_two),
	OS("syscall(SYS_munmap)", syscall, MUNMAP, one_page, c_sys_munmap, unmap_one),
	OS("syscall(SYS_brk)", syscall, BRK, NULL, c_sys_brk, NULL),

	OS("pthread_mutex_lock", pthread_mutex_lock, MUTEX_LOCK, sync_objects, c_mutex, unlock_mutex),
	OS("pthread_mutex_trylock", pthread_mutex_trylock, MUTEX_TRYLOCK, sync_objects, c_mutex, unlock_mutex),
	OS("pthread_mutex_timedlock", pthread_mutex_timedlock, MUTEX_TIMEDLOCK, sync_objects, c_mutex_timed, unlock_mutex),
	OS("pthread_rwlock_rdlock", pthread_rwlock_rdlock, RWLOCK_RDLOCK, sync_objects, c_rwlock, unlock_rwlock),
	OS("pthread_rwlock_tryrdlock", pthread_rwlock_tryrdlock, RWLOCK_TRYRDLOCK, sync_objects, c_rwlock, unlock_rwlock),
	OS("pthread_rwlock_timedrdlock", pthread_rwlock_timedrdlock, RWLOCK_TIMEDRDLOCK, sync_objects, c_rwlock_timed, unlock_rwlock),
	OS("pthread_rwlock_wrlock", pthread_rwlock_wrlock, RWLOCK_WRLOCK, sync_objects, c_rwlock, unlock_rwlock),
	OS("pthread_rwlock_trywrlock", pthread_rwlock_trywrlock, RWLOCK_TRYWRLOCK, sync_objects, c_rwlock, unlock_rwlock),
	OS("pthread_rwlock_timedwrlock", pthread_rwlock_timedwrlock, RWLOCK_TIMEDWRLOCK, sync_objects, c_rwlock_timed, unlock_rwlock),
	OS("pthread_cond_wait", pthread_cond_wait, COND_WAIT, sync_objects, c_cond_wait, NULL),
	OS("pthread_cond_timedwait", pthread_cond_timedwait, COND_TIMEDWAIT, held_mutex, c_cond_timed, unlock_mutex),
	OS("sem_wait", sem_wait, SEM_WAIT, sync_objects, c_sem, NULL),
	OS("sem_timedwait", sem_timedwait, SEM_TIMEDWAIT, sync_objects, c_sem_timed, NULL),
	OS("pthread_join", pthread_join, JOIN, NULL, c_join, NULL),
	OS("syscall(SYS_futex)", syscall, FUTEX, sync_objects, c_futex, NULL),
	OS("nanosleep", nanosleep, NANOSLEEP, NULL, c_nanosleep, NULL),
	OS("clock_nanosleep", clock_nanosleep, CLOCK_NANOSLEEP, NULL, c_clock_nanosleep, NULL),
	OS("usleep", usleep, USLEEP, NULL, c_usleep, NULL),
	OS("sleep", sleep, SLEEP, NULL, c_sleep, NULL),
	OS("read", read, READ, NULL, c_read, NULL),
	OS("write", write, WRITE, NULL, c_write, NULL),
	OS("open", open, OPEN, NULL, c_open, close_fd),
	OS("open64", open64, OPEN, NULL, c_open, close_fd),
	OS("openat", openat, OPENAT, NULL, c_openat, close_fd),
	OS("openat64", openat64, OPENAT, NULL, c_openat, close_fd),
	OS("poll", poll, POLL, NULL, c_poll, NULL),
	OS("select", select, SELECT, NULL, c_select, NULL),
	OS("epoll_wait", epoll_wait, EPOLL_WAIT, NULL, c_epoll_wait, NULL),
	OS("accept", accept, ACCEPT, NULL, c_accept, NULL),
	OS("accept4", accept4, ACCEPT, NULL, c_accept4, NULL),
	OS("connect", connect, CONNECT, NULL, c_connect, NULL),
	OS("recv", recv, RECV, NULL, c_recv, NULL),
	OS("recvfrom", recvfrom, RECVFROM, NULL, c_recvfrom, NULL),
	OS("recvmsg", recvmsg, RECVMSG, NULL, c_msg, NULL),
	OS("send", send, SEND, NULL, c_send, NULL),
	OS("sendto", sendto, SENDTO, NULL, c_sendto, NULL),
	OS("sendmsg", sendmsg, SENDMSG, NULL, c_msg, NULL),
	OS("fsync", fsync, FSYNC, NULL, c_fsync, NULL),
};
const size_t n_entries = sizeof entries / sizeof entries[0];
_Static_assert(sizeof entries / sizeof entries[0] == ENTRY_COUNT,
	       "ENTRY_COUNT (entries.h) must be the number of rows of entries[]");

const struct entry *entry_find(const char *fn)
{
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].fn, fn) == 0)
			return &entries[i];
	return NULL;
}

void *entry_setup(const struct entry *e)
{
	(void)page_size(); /* sysconf outside the window */
	return e->setup ? e->setup() : NULL;
}

void entry_cleanup(const struct entry *e, void *in, void *out, int rc)
{
	/* a failed realloc, mremap, free or munmap leaves its input in place */
	if (rc != 0 && in && in != out) {
		if (e->setup == small_block)
			release_block(in);
		else if (e->setup == one_page)
			unmap_one(in);
	}
	if (e->cleanup && out)
		e->cleanup(out);
}
