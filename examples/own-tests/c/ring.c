#include <stdlib.h>

#include "ring.h"

void ring_push(struct ring *r, int v)
{
	r->buf[(r->head + r->len) % 8] = v;
	if (r->len < 8)
		r->len++;
	else
		r->head = (r->head + 1) % 8;
}

struct snapshot *ring_snapshot(const struct ring *r)
{
	struct snapshot *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	s->n = r->len;
	s->items = malloc((r->len ? r->len : 1) * sizeof *s->items);
	if (!s->items) {
		free(s);
		return NULL;
	}
	for (unsigned i = 0; i < r->len; i++)
		s->items[i] = r->buf[(r->head + i) % 8];
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (s)
		free(s->items);
	free(s);
}
