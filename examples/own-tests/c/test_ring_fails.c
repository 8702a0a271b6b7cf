/* Deliberate failures, to show what they print (make test checks them):
 *   `s = ring_snapshot(&r)` made heap calls, expected none: 2 allocation(s),
 *   0 free(s), 0 OS call(s), 20 byte(s) [malloc 2]; first call: malloc (tid N)
 *   at 0x… (ring_snapshot+0x… in …/test-ring-fails)
 *   `usleep(1)` made heap or blocking calls, expected none: 0 allocation(s),
 *   0 free(s), 0 OS call(s), 1 blocking call(s), 0 byte(s) [usleep 1]; … */
#include <criterion/criterion.h>
#include <audit_criterion.h>

#include <unistd.h>

#include "ring.h"

Test(ring, snapshot_claimed_heap_free)
{
	struct ring r = { .len = 0 };
	struct snapshot *s;
	ring_push(&r, 1);
	cr_assert_no_heap(s = ring_snapshot(&r));
	snapshot_free(s);
}

Test(ring, a_sleep_claimed_nonblocking)
{
	cr_assert_nonblocking(usleep(1));
}
