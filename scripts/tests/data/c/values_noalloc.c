// test data (hand-written, C_TARGET's no_alloc shape): a system whose methods
// return and whose members hold every type the C shim prints, to check that
// its observe text is Rust's Debug text
#include <stdbool.h>
#include <stdint.h>

typedef uint16_t word_t;
typedef enum { Values_A, Values_B } Values_Kind;

struct Values {
    int32_t total;
    uint8_t small, tiny;
    bool flag;
    double ratio;
    float half;
    int8_t neg;
    uint16_t arr[3];
    word_t word;
    Values_Kind kind;
    uint64_t big;
    uint32_t __stack_overflows;
    int _private;
    struct { int x; } _inner;
};
typedef struct Values Values;

static int32_t Values__clamp(int32_t v) { return v; }

void Values_init(Values *self)
{
    *self = (Values){0};
    self->tiny = 7;
}

void Values_deinit(Values *self) { (void)self; }

int32_t Values_add(Values *self, int32_t n) { self->total = Values__clamp(self->total + n); return self->total; }

bool Values_toggle(Values *self) { self->flag = !self->flag; return self->flag; }

uint8_t Values_small(Values *self, uint8_t x) { self->small = x; return (uint8_t)(x + 1); }

double Values_ratio(Values *self, double r) { self->ratio = r; return r; }

float Values_half(Values *self, float h) { self->half = h; return h / 2; }

int8_t Values_neg(Values *self, int8_t v) { self->neg = v; return v; }

uint64_t Values_big(Values *self, uint64_t v) { self->big = v; return v; }

void Values_poke(Values *self, uint16_t a, word_t b)
{
    self->arr[a % 3] = b;
    self->word = b;
    self->kind = Values_B;
}
