/* A deliberate failure, to show what one prints (make test checks it):
 *   `s = ring_snapshot(&r)` made heap calls, expected none: 2 allocation(s),
 *   0 free(s), 0 OS call(s), 24 byte(s) [malloc 2]; first call: malloc (tid N)
 *   at 0x… (ring_snapshot+0x… in …/test-ring-fails) */
#include <criterion/criterion.h>
#include <audit_criterion.h>

#include "ring.h"

Test(ring, snapshot_claimed_heap_free)
{
	struct ring r = { .len = 0 };
	struct snapshot *s;
	ring_push(&r, 1);
	cr_assert_no_heap(s = ring_snapshot(&r));
	snapshot_free(s);
}
