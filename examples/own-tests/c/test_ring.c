/* The user's own Criterion tests: "no allocation" and "two allocations",
 * per call, with the installed frame-alloc-audit (Makefile). */
#include <criterion/criterion.h>
#include <audit_criterion.h>

#include "ring.h"

Test(ring, push_makes_no_heap_call)
{
	struct ring r = { .len = 0 };
	for (int i = 0; i < 20; i++)
		cr_assert_no_heap(ring_push(&r, i));
	cr_assert_eq(r.len, 8);
	/* Safe to call from an interrupt handler: no heap, no lock, no sleep. */
	cr_assert_nonblocking(ring_push(&r, 21));
}

Test(ring, snapshot_allocates_twice)
{
	struct ring r = { .len = 0 };
	struct snapshot *s;
	ring_push(&r, 1);
	ring_push(&r, 2);
	cr_assert_heap(2, s = ring_snapshot(&r));
	cr_assert_eq(s->n, 2);
	cr_assert_heap(0, snapshot_free(s)); /* two free()s, no allocation */
}
