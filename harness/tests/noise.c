/*
 * noise.c — a test-only preload that gives every process loading it a
 * helper thread allocating in a loop, like a harness that runs threads of
 * its own next to the measurement (the Criterion worker's nanomsg thread,
 * only busier).  A clean no_alloc library must still pass.
 *
 * FAA_NOISE_AT_FORK=1 also starts one in every fork() child, so that the
 * measuring process has two threads: the harness must refuse to measure.
 *
 * Each thread says on stderr where it runs, so that a test can tell that
 * the noise was really there.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*volatile do_malloc)(size_t) = malloc;
static void (*volatile do_free)(void *) = free;

static void *churn(void *arg)
{
	char msg[64];
	int n = snprintf(msg, sizeof msg, "faa-noise: allocating in pid %ld\n", (long)getpid());
	(void)arg;
	if (write(2, msg, (size_t)n) < 0)
		return NULL;
	for (;;) {
		do_free(do_malloc(64));
		usleep(20);
	}
	return NULL;
}

static void start(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, churn, NULL) == 0)
		pthread_detach(t);
}

__attribute__((constructor)) static void noise_init(void)
{
	const char *at_fork = getenv("FAA_NOISE_AT_FORK");
	start();
	if (at_fork && strcmp(at_fork, "1") == 0)
		pthread_atfork(NULL, NULL, start);
}
