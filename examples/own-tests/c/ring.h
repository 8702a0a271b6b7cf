/* ring.h — the code under test: a fixed ring of ints (no heap) and a
 * snapshot of it (two allocations: the header and the items). */
#ifndef RING_H
#define RING_H

#include <stddef.h>

struct ring {
	int buf[8];
	unsigned head, len;
};

struct snapshot {
	size_t n;
	int *items;
};

void ring_push(struct ring *r, int v);
struct snapshot *ring_snapshot(const struct ring *r);
void snapshot_free(struct snapshot *s);

#endif
