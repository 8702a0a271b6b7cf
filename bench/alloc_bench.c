/*
 * alloc_bench.c — faa-alloc-bench: what counting costs.
 *
 *   faa-alloc-bench [--scale F] [--inner K] [--only NAME]
 *
 * Prints one line per workload, "NAME VALUE" with VALUE in ns:
 *
 *   fixed32          malloc(32) + free, one pair
 *   random           malloc(16..4096, fixed-seed xorshift sizes) + free
 *   realloc_growth   malloc(16), realloc x2 up to 4096 (8 reallocs), free:
 *                    one growth sequence of 10 calls
 *   fixed32_2t,      the same per pair, two threads running the loop at
 *   random_2t,       once (wall time of the slower thread / its pairs)
 *   realloc_growth_2t
 *
 * the blocking hooks' pass-through (one thread; the hooked call is the
 * first of each unit, the rest is not hooked):
 *
 *   hook_mutex       pthread_mutex_lock + pthread_mutex_unlock, uncontended
 *   hook_futex       syscall(SYS_futex, FUTEX_WAKE_PRIVATE) with no waiter
 *   hook_read        read(-1, buf, 1): the system call that fails at once
 *
 * and, when libaudit.so is preloaded, the cost of one window around
 * nothing (open + close, with the loop around it):
 *
 *   window_api       audit_window_open + audit_window_close through the
 *                    dlsym'd pointers of audit_api_resolve (the harness's path)
 *   window_fast      audit_fast_open + audit_fast_close (inline, audit.h)
 *   loop             the empty loop with the same barrier (its overhead)
 *
 * Each figure is the fastest of K (default 5) back-to-back timed loops in
 * this process: on a shared machine the minimum is the estimate least
 * disturbed by other processes; scripts/faa/bench/ then takes the median
 * over processes.
 *
 * The same binary is run with and without LD_PRELOAD by scripts/faa/bench/
 * (interleaved repetitions, medians); this program only measures.  Every
 * allocator call goes through a volatile function pointer, so gcc -O2 can
 * neither delete a malloc/free pair nor hoist it out of the loop.  Without
 * the preload the window lines are left out (nothing to measure), and
 * `--only window_fast` exits 4 with "interposer not loaded".
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <errno.h>
#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void (*volatile v_free)(void *) = free;
static int (*volatile v_lock)(pthread_mutex_t *) = pthread_mutex_lock;
static int (*volatile v_unlock)(pthread_mutex_t *) = pthread_mutex_unlock;
static long (*volatile v_syscall)(long, ...) = syscall;
static ssize_t (*volatile v_read)(int, void *, size_t) = read;

#define NSIZES 4096 /* power of two: index with & */
static size_t sizes[NSIZES];

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* xorshift64*, fixed seed: every run and both conditions see the same
 * size sequence. */
static void fill_sizes(void)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < NSIZES; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		sizes[i] = 16 + (size_t)((x * 0x2545F4914F6CDD1Dull) >> 33) % (4096 - 16 + 1);
	}
}

/* ---- workloads: each returns after n units -------------------------- */

static void w_fixed32(long n)
{
	for (long i = 0; i < n; i++)
		v_free(v_malloc(32));
}

static void w_random(long n)
{
	for (long i = 0; i < n; i++)
		v_free(v_malloc(sizes[i & (NSIZES - 1)]));
}

static void w_realloc(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = v_malloc(16);
		for (size_t s = 32; s <= 4096; s *= 2)
			p = v_realloc(p, s);
		v_free(p);
	}
}

/* ---- the blocking hooks: each unit makes one hooked call ------------- */

static void w_mutex(long n)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	for (long i = 0; i < n; i++) {
		v_lock(&m);
		v_unlock(&m);
	}
}

static void w_futex(long n)
{
	static int word;
	for (long i = 0; i < n; i++)
		v_syscall(SYS_futex, &word, (long)FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L);
}

static void w_read(long n)
{
	char buf[1];
	for (long i = 0; i < n; i++)
		v_read(-1, buf, 1);
}

struct workload {
	const char *name;
	void (*fn)(long);
	long units; /* per run at --scale 1: ~20-40 ms on a 2020s core */
};

static struct workload workloads[] = {
	{ "fixed32", w_fixed32, 2000000 },
	{ "random", w_random, 1000000 },
	{ "realloc_growth", w_realloc, 200000 },
};
#define NWORK (sizeof workloads / sizeof workloads[0])

static struct workload hooks[] = {
	{ "hook_mutex", w_mutex, 4000000 },
	{ "hook_futex", w_futex, 1000000 },
	{ "hook_read", w_read, 1000000 },
};
#define NHOOKS (sizeof hooks / sizeof hooks[0])

/* ---- two threads ----------------------------------------------------- */

struct runner {
	const struct workload *w;
	long n;
	pthread_barrier_t *start;
	double ns;
};

static void *thread_main(void *arg)
{
	struct runner *r = arg;
	r->w->fn(r->n / 20); /* warm this thread's tcache/arena */
	pthread_barrier_wait(r->start);
	double t0 = now_ns();
	r->w->fn(r->n);
	r->ns = now_ns() - t0;
	return NULL;
}

static double two_threads(void *arg, long n)
{
	const struct workload *w = arg;
	pthread_barrier_t start;
	struct runner r[2];
	pthread_t t[2];
	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct runner){ .w = w, .n = n, .start = &start };
		if (pthread_create(&t[i], NULL, thread_main, &r[i]) != 0) {
			perror("faa-alloc-bench: pthread_create");
			exit(1);
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	double slow = r[0].ns > r[1].ns ? r[0].ns : r[1].ns;
	return slow / (double)n;
}

static int inner = 5;

/* One timed run of n iterations of what arg names: ns per iteration. */
typedef double measure_fn(void *arg, long n);

/* The best (least) of `inner` runs. */
static double best_of(measure_fn *measure, void *arg, long n)
{
	double best = 0;
	for (int i = 0; i < inner; i++) {
		double ns = measure(arg, n);
		if (i == 0 || ns < best)
			best = ns;
	}
	return best;
}

static double one_thread(void *arg, long n)
{
	const struct workload *w = arg;
	w->fn(n / 20);
	double t0 = now_ns();
	w->fn(n);
	return (now_ns() - t0) / (double)n;
}

/* ---- windows --------------------------------------------------------- */

/* The barrier stands for the measured code: the compiler must assume it
 * reads and writes memory, exactly as an opaque dispatch would. */
#define BARRIER() __asm__ __volatile__("" ::: "memory")

static double loop_once(void *arg, long n)
{
	(void)arg;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		BARRIER();
	return (now_ns() - t0) / (double)n;
}

/* One timed loop of n empty full windows; a non-zero count in a window
 * around nothing would mean the window API itself allocates. */
static double api_once(void *arg, long n)
{
	const struct audit_api *api = arg;
	struct audit_counts c;
	uint64_t sink = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		api->open(AUDIT_THIS_THREAD);
		BARRIER();
		api->close(&c);
		sink += c.allocs + c.frees;
	}
	double ns = (now_ns() - t0) / (double)n;
	if (sink)
		fprintf(stderr, "faa-alloc-bench: %llu call(s) in empty windows\n",
			(unsigned long long)sink);
	return ns;
}

static double fast_once(void *arg, long n)
{
	struct audit_fast_window *w = arg;
	uint64_t sink = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		audit_fast_open(w);
		BARRIER();
		sink += audit_fast_close(w);
	}
	double ns = (now_ns() - t0) / (double)n;
	if (sink)
		fprintf(stderr, "faa-alloc-bench: %llu call(s) in empty fast windows\n",
			(unsigned long long)sink);
	return ns;
}

/* ---- main ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: faa-alloc-bench [--scale F] [--inner K] [--only NAME]\n"
	      "Prints NAME ns lines: malloc+free pairs (fixed32, random, realloc_growth;\n"
	      "_2t = two threads), the blocking hooks (hook_mutex, hook_futex,\n"
	      "hook_read) and, under LD_PRELOAD=libaudit.so, window_api,\n"
	      "window_fast and loop.  See bench/alloc_bench.c.\n", f);
}

static int wanted(const char *only, const char *name)
{
	return !only || !strcmp(only, name);
}

/* Returns -1 to go on, or the exit status (0 after --help, 2 usage). */
static int parse_options(int argc, char **argv, double *scale, const char **only)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "scale", required_argument, NULL, 's' },
		{ "inner", required_argument, NULL, 'i' },
		{ "only", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int ok = 1;
	for (int c; ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case 's': *scale = strtod(optarg, NULL); ok = *scale > 0; break;
		case 'i': inner = atoi(optarg); ok = inner >= 1; break;
		case 'o': *only = optarg; break;
		default: ok = 0;
		}
	}
	if (!ok || optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The allocator workloads, one thread and two. */
static void bench_workloads(double scale, const char *only)
{
	for (size_t k = 0; k < NWORK; k++) {
		struct workload *w = &workloads[k];
		long n = (long)((double)w->units * scale);
		char name[64];
		if (n < 1)
			n = 1;
		if (wanted(only, w->name))
			printf("%s %.3f\n", w->name, best_of(one_thread, w, n));
		snprintf(name, sizeof name, "%s_2t", w->name);
		if (wanted(only, name))
			printf("%s %.3f\n", name, best_of(two_threads, w, n));
	}
}

/* The blocking hooks' units, one thread. */
static void bench_hooks(double scale, const char *only)
{
	for (size_t k = 0; k < NHOOKS; k++) {
		struct workload *w = &hooks[k];
		long n = (long)((double)w->units * scale);
		if (n < 1)
			n = 1;
		if (wanted(only, w->name))
			printf("%s %.3f\n", w->name, best_of(one_thread, w, n));
	}
}

/* Empty windows (when libaudit.so is preloaded) and the bare loop.
 * Returns 4 when a window was asked for by name but cannot be measured. */
static int bench_windows(double scale, const char *only)
{
	struct audit_api api;
	struct audit_fast_window fw;
	int api_ok = audit_api_resolve(&api) == 0;
	int fast_ok = audit_fast_resolve(&fw) == 0;
	long n = (long)(20000000 * scale);
	if (n < 1)
		n = 1;
	int want_windows = wanted(only, "window_api") || wanted(only, "window_fast");
	if (want_windows && only && !(api_ok && fast_ok)) {
		fprintf(stderr, "faa-alloc-bench: interposer not loaded: run with "
			"LD_PRELOAD=<build>/interposer/libaudit.so\n");
		return 4;
	}
	if (api_ok && fast_ok && want_windows) {
		if (wanted(only, "window_api")) {
			api_once(&api, n / 10);
			printf("window_api %.3f\n", best_of(api_once, &api, n));
		}
		if (wanted(only, "window_fast")) {
			fast_once(&fw, n / 10);
			printf("window_fast %.3f\n", best_of(fast_once, &fw, n));
		}
	}
	if (wanted(only, "loop")) {
		printf("loop %.3f\n", best_of(loop_once, NULL, n));
	}
	return 0;
}

int main(int argc, char **argv)
{
	double scale = 1.0;
	const char *only = NULL;
	int rc = parse_options(argc, argv, &scale, &only);
	if (rc >= 0)
		return rc;
	fill_sizes();
	setvbuf(stdout, NULL, _IOLBF, 0); /* stdio's buffer allocated now */
	bench_workloads(scale, only);
	bench_hooks(scale, only);
	return bench_windows(scale, only);
}
