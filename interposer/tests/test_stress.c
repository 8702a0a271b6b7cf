/* Stress: several threads allocating for seconds while windows open and
 * close, in per-thread and all-threads mode — every count exact, no
 * deadlock — and a signal handler that allocates while the interrupted
 * thread is inside a hook or inside a counted window.
 *
 * Rules as in common.h: allocate through the v_* pointers, no stdio or
 * Criterion inside windows or worker threads; workers record mismatches and
 * the test thread asserts after joining them.
 *
 * STRESS_SECONDS (default 2) sets how long each test runs. */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

TestSuite(stress, .init = audit_calibrate, .timeout = 60);

enum { WORKERS = 3, MAX_BLOCKS = 16 };

static double stress_seconds(void)
{
	const char *s = getenv("STRESS_SECONDS");
	double v = s ? atof(s) : 2.0;
	return v > 0 ? v : 2.0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift: a reproducible mix of kinds and sizes without calling libc */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* What one burst did, to compare with a window's counts. */
struct burst {
	uint64_t calls[AUDIT_KIND_COUNT];
	uint64_t bytes;
};

/* 1..MAX_BLOCKS blocks by malloc/calloc/realloc/aligned_alloc, then all
 * freed; records the calls it made in *b. */
static void burst(uint32_t *seed, struct burst *b)
{
	void *p[MAX_BLOCKS];
	int n = 1 + (int)(next_rand(seed) % MAX_BLOCKS);

	for (int i = 0; i < n; i++) {
		size_t size = 1 + next_rand(seed) % 2048;
		switch (next_rand(seed) % 4) {
		case 0:
			p[i] = v_malloc(size);
			b->calls[AUDIT_MALLOC]++;
			b->bytes += size;
			break;
		case 1:
			p[i] = v_calloc(2, size);
			b->calls[AUDIT_CALLOC]++;
			b->bytes += 2 * size;
			break;
		case 2:
			p[i] = v_realloc(v_malloc(size), size * 2);
			b->calls[AUDIT_MALLOC]++;
			b->calls[AUDIT_REALLOC]++;
			b->bytes += size + size * 2;
			break;
		default:
			p[i] = v_aligned_alloc(64, 64 * (size / 64 + 1));
			b->calls[AUDIT_ALIGNED_ALLOC]++;
			b->bytes += 64 * (size / 64 + 1);
			break;
		}
	}
	for (int i = 0; i < n; i++)
		v_free(p[i]);
	b->calls[AUDIT_FREE] += (uint64_t)n;
}

static int burst_matches(const struct burst *b, const struct audit_counts *c)
{
	uint64_t allocs = 0;
	/* memory kinds only: the semaphores that start and stop a round are
	 * blocking calls the window counts too */
	for (int k = 0; k < AUDIT_MEMORY_KINDS; k++) {
		if (c->calls[k] != b->calls[k])
			return 0;
		if (k < AUDIT_HEAP_KINDS && k != AUDIT_FREE)
			allocs += b->calls[k];
	}
	return c->bytes == b->bytes && c->allocs == allocs &&
	       c->frees == b->calls[AUDIT_FREE] && c->os == 0;
}

/* One burst in a window opened with flags: *b says what the burst did, *c
 * what the window counted. */
static void burst_in_window(unsigned flags, uint32_t *seed, struct burst *b,
			    struct audit_counts *c)
{
	*b = (struct burst){0};
	audit.open(flags);
	burst(seed, b);
	audit.close(c);
}

/* ---- per-thread windows under concurrent allocation --------------------- */

struct worker {
	pthread_t tid;
	uint32_t seed;
	uint64_t windows, mismatches, noise;
};

static atomic_int stop;

/* Alternates a counted burst inside its own window with an uncounted burst
 * outside it, so that some thread is always allocating while others open
 * and close windows. */
static void *per_thread_worker(void *arg)
{
	struct worker *w = arg;
	struct audit_counts c;

	while (!atomic_load(&stop)) {
		struct burst b, outside = {0};
		burst_in_window(AUDIT_THIS_THREAD, &w->seed, &b, &c);
		w->windows++;
		if (!burst_matches(&b, &c))
			w->mismatches++;
		burst(&w->seed, &outside);
		w->noise += outside.calls[AUDIT_FREE];
	}
	return NULL;
}

static void start_workers(struct worker *w, int n, void *(*fn)(void *))
{
	atomic_store(&stop, 0);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){.seed = 0x9E3779B9u * (uint32_t)(i + 1)};
		cr_assert_eq(pthread_create(&w[i].tid, NULL, fn, &w[i]), 0);
	}
}

static void join_workers(struct worker *w, int n)
{
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
}

/* While WORKERS per_thread_workers run, this thread bursts in windows
 * opened with flags until the stress time is up, and adds up what
 * faults() finds wrong in each; returns how many windows it closed. */
static uint64_t windows_among_workers(struct worker *w, unsigned flags, uint32_t seed,
				      uint64_t (*faults)(const struct burst *, const struct audit_counts *),
				      uint64_t *nfaults)
{
	struct audit_counts c;
	uint64_t windows = 0;
	double end = now() + stress_seconds();

	start_workers(w, WORKERS, per_thread_worker);
	while (now() < end) {
		struct burst b;
		burst_in_window(flags, &seed, &b, &c);
		windows++;
		*nfaults += faults(&b, &c);
	}
	join_workers(w, WORKERS);
	return windows;
}

static uint64_t inexact(const struct burst *b, const struct audit_counts *c)
{
	return !burst_matches(b, c);
}

/* kinds the window counted fewer of than the burst made */
static uint64_t short_kinds(const struct burst *b, const struct audit_counts *c)
{
	uint64_t n = 0;
	for (int k = 0; k < AUDIT_MEMORY_KINDS; k++)
		n += c->calls[k] < b->calls[k];
	return n;
}

Test(stress, per_thread_windows_stay_exact_while_other_threads_allocate)
{
	struct worker w[WORKERS];
	uint64_t mismatches = 0;
	uint64_t windows = windows_among_workers(w, AUDIT_THIS_THREAD, 12345, inexact, &mismatches);

	for (int i = 0; i < WORKERS; i++) {
		cr_expect_eq(w[i].mismatches, 0, "worker %d: %llu of %llu windows inexact", i,
			     (unsigned long long)w[i].mismatches, (unsigned long long)w[i].windows);
		cr_expect_gt(w[i].windows, 100, "worker %d only closed %llu windows", i,
			     (unsigned long long)w[i].windows);
		windows += w[i].windows;
	}
	cr_assert_eq(mismatches, 0, "main: %llu inexact windows", (unsigned long long)mismatches);
	cr_log_info("stress: %llu per-thread windows over %d threads, all exact",
		    (unsigned long long)windows, WORKERS + 1);
}

/* The same per-thread workers while this thread keeps opening and closing
 * all-threads windows: a per-thread window counts its own thread only,
 * whatever the process-wide window does, and the all-threads window sees at
 * least what this thread did in it. */
Test(stress, all_threads_windows_opening_and_closing_around_per_thread_windows)
{
	struct worker w[WORKERS];
	uint64_t short_counts = 0;
	uint64_t windows = windows_among_workers(w, AUDIT_ALL_THREADS, 777, short_kinds, &short_counts);

	for (int i = 0; i < WORKERS; i++)
		cr_expect_eq(w[i].mismatches, 0, "worker %d: %llu of %llu per-thread windows inexact "
			     "while all-threads windows toggled", i, (unsigned long long)w[i].mismatches,
			     (unsigned long long)w[i].windows);
	cr_assert_eq(short_counts, 0, "an all-threads window missed calls of its own thread");
	cr_assert_gt(windows, 100);
}

/* ---- all-threads windows, exact ------------------------------------------ */

/* Each round: the test thread opens an all-threads window, releases every
 * worker for one burst, waits for all of them, closes — the window must
 * hold exactly the sum of the bursts (and its own nothing). */
struct round_worker {
	pthread_t tid;
	uint32_t seed;
	sem_t go, done;
	struct burst b;
};

static void *round_main(void *arg)
{
	struct round_worker *r = arg;
	for (;;) {
		sem_wait(&r->go);
		if (atomic_load(&stop))
			return NULL;
		burst(&r->seed, &r->b);
		sem_post(&r->done);
	}
}

Test(stress, all_threads_window_sums_every_thread_exactly)
{
	struct round_worker r[WORKERS];
	struct audit_counts c;
	uint64_t rounds = 0, mismatches = 0;
	double end = now() + stress_seconds();

	atomic_store(&stop, 0);
	for (int i = 0; i < WORKERS; i++) {
		r[i].seed = 0xB5297A4Du * (uint32_t)(i + 1);
		cr_assert_eq(sem_init(&r[i].go, 0, 0), 0);
		cr_assert_eq(sem_init(&r[i].done, 0, 0), 0);
		cr_assert_eq(pthread_create(&r[i].tid, NULL, round_main, &r[i]), 0);
	}
	while (now() < end) {
		struct burst sum = {0};
		for (int i = 0; i < WORKERS; i++)
			r[i].b = (struct burst){0};
		audit.open(AUDIT_ALL_THREADS);
		for (int i = 0; i < WORKERS; i++)
			sem_post(&r[i].go);
		for (int i = 0; i < WORKERS; i++)
			sem_wait(&r[i].done);
		audit.close(&c);
		rounds++;
		for (int i = 0; i < WORKERS; i++) {
			for (int k = 0; k < AUDIT_KIND_COUNT; k++)
				sum.calls[k] += r[i].b.calls[k];
			sum.bytes += r[i].b.bytes;
		}
		mismatches += !burst_matches(&sum, &c);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		sem_post(&r[i].go);
		pthread_join(r[i].tid, NULL);
		sem_destroy(&r[i].go);
		sem_destroy(&r[i].done);
	}
	cr_assert_gt(rounds, 100, "only %llu rounds", (unsigned long long)rounds);
	cr_assert_eq(mismatches, 0, "%llu of %llu all-threads windows inexact",
		     (unsigned long long)mismatches, (unsigned long long)rounds);
	cr_log_info("stress: %llu all-threads windows over %d allocating threads, all exact",
		    (unsigned long long)rounds, WORKERS);
}

/* ---- a signal handler that allocates ------------------------------------- */

/* The handler runs on the thread it interrupts and makes one malloc/free
 * pair. Whether the interposer counted it is read from the thread's
 * fast-window counters (which move for exactly the outermost calls):
 *   - interrupted inside a hook (the thread is marked in_hook): the pair is
 *     a nested call, forwarded to glibc uncounted — neither the fast
 *     counters nor the open window see it;
 *   - interrupted anywhere else inside the window: the pair is counted in
 *     the window, as any call that thread makes.
 * The interrupted loop only calls free(NULL), which in glibc returns before
 * touching the heap, so the handler's malloc cannot re-enter glibc's
 * allocator mid-operation (that would be unsafe with or without us). */
static const volatile struct audit_thread_counts *sig_st;
static volatile sig_atomic_t sig_in_window;
static volatile uint64_t sig_total, sig_nested, sig_counted_allocs, sig_counted_frees;

static void allocating_handler(int sig)
{
	(void)sig;
	if (!sig_in_window)
		return;
	uint64_t a = sig_st->allocs, f = sig_st->frees;
	void *p = v_malloc(48);
	uint64_t a2 = sig_st->allocs;
	v_free(p);
	uint64_t f2 = sig_st->frees;
	sig_total++;
	if (a2 == a && f2 == f)
		sig_nested++;
	sig_counted_allocs += a2 - a;
	sig_counted_frees += f2 - f;
}

struct sender {
	pthread_t target;
	atomic_int stop;
	uint64_t sent;
};

static void *send_signals(void *arg)
{
	struct sender *s = arg;
	struct timespec gap = {0, 20000};
	while (!atomic_load(&s->stop)) {
		pthread_kill(s->target, SIGUSR1);
		s->sent++;
		nanosleep(&gap, NULL);
	}
	return NULL;
}

Test(stress, signal_handler_allocating_inside_a_hook_is_forwarded_uncounted)
{
	struct audit_fast_window fw;
	struct audit_counts c;
	struct sigaction sa = {0}, old_sa;
	sigset_t usr1, old;
	struct sender s = {.target = pthread_self()};
	pthread_t sender;
	uint64_t loops = 0;
	double end = now() + stress_seconds();

	cr_assert_eq(audit_fast_resolve(&fw), 0, "interposer not loaded: audit_thread_state()");
	sig_st = fw.st;
	sa.sa_handler = allocating_handler;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	cr_assert_eq(pthread_create(&sender, NULL, send_signals, &s), 0);

	/* the handler may only run while the window is open */
	audit.open(AUDIT_THIS_THREAD);
	sig_in_window = 1;
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	while (now() < end) {
		for (int i = 0; i < 1000; i++)
			v_free(NULL);  /* a counted hook, and no heap work in glibc */
		loops += 1000;
	}
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	sig_in_window = 0;
	audit.close(&c);

	atomic_store(&s.stop, 1);
	pthread_join(sender, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);  /* a pending signal finds sig_in_window == 0 */
	sigaction(SIGUSR1, &old_sa, NULL);

	cr_assert_gt(sig_total, 10, "only %llu of %llu signals were handled in the window",
		     (unsigned long long)sig_total, (unsigned long long)s.sent);
	cr_assert_eq(c.calls[AUDIT_FREE], loops + sig_counted_frees,
		     "frees %llu, want %llu loop + %llu handler", (unsigned long long)c.calls[AUDIT_FREE],
		     (unsigned long long)loops, (unsigned long long)sig_counted_frees);
	cr_assert_eq(c.calls[AUDIT_MALLOC], sig_counted_allocs, "mallocs %llu, want %llu",
		     (unsigned long long)c.calls[AUDIT_MALLOC], (unsigned long long)sig_counted_allocs);
	cr_assert_eq(c.allocs, sig_counted_allocs);
	cr_assert_eq(c.bytes, 48 * sig_counted_allocs);
	/* both paths were taken: handlers that interrupted a hook were
	 * forwarded uncounted, the others were counted */
	cr_assert_gt(sig_nested, 0, "no signal landed inside a hook in %llu tries", (unsigned long long)sig_total);
	cr_assert_eq(sig_counted_allocs, sig_total - sig_nested);
	cr_log_info("stress: %llu allocating signal handlers in a window: %llu inside a hook (uncounted), "
		    "%llu outside (counted); %llu free(NULL) calls counted exactly",
		    (unsigned long long)sig_total, (unsigned long long)sig_nested,
		    (unsigned long long)(sig_total - sig_nested), (unsigned long long)loops);
}
