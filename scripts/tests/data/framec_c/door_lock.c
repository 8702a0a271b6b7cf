// DoorLock: a system written by hand in the shape of framec's C output
// (`framec -l c`, the runtime whose FrameVec_new makes 3 allocator calls),
// for frame-alloc-audit's tests of `--generated x.c` on another compiler's C:
// one self-contained file, every runtime object prefixed with the system's
// name, the runtime and the machinery `static`, and the public API framec
// writes: DoorLock_new / DoorLock_create / DoorLock_destroy, one
// `RET DoorLock_EVENT(DoorLock* self, ...)` per interface method, actions as
// `RET DoorLock_NAME(DoorLock* self, ...)`, handlers named
// DoorLock_s_STATE_hdl_user_EVENT / _hdl_frame_enter / _hdl_frame_exit and
// called from one DoorLock_state_STATE dispatcher per state.  No #line and
// no mapping comment: framec leaves no trace of the .frs.
//
// Allocator calls per construct, as framec's: a FrameDict is 2 (the dict,
// calloc of 16 buckets), a FrameVec 3 (the vec, its items, calloc of its
// owned flags), a FrameEvent 1, a FrameContext 3 (with its dict), a
// Compartment 12 (the struct, state_args, state_vars, enter_args,
// exit_args).  An interface call: event + context = 4; with parameters +3
// (the parameter vec); a transition + the compartment, the <$ and the $>
// events = +14; DoorLock_create: calloc + the constructor body twice
// (22 each: two stacks, the start compartment, the $> event and its
// context) = 45.  Like framec's, DoorLock_create overwrites what
// DoorLock_new built (the two stacks and the start compartment) without
// freeing it.

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

// ---- DoorLock_FrameDict: string keys, 16 buckets ----------------------------

typedef struct DoorLock_FrameDictEntry {
    char* key;
    void* value;
    struct DoorLock_FrameDictEntry* next;
} DoorLock_FrameDictEntry;

typedef struct {
    DoorLock_FrameDictEntry** buckets;
    int bucket_count;
    int size;
} DoorLock_FrameDict;

static DoorLock_FrameDict* DoorLock_FrameDict_new(void) {
    DoorLock_FrameDict* d = malloc(sizeof(DoorLock_FrameDict));
    d->bucket_count = 16;
    d->size = 0;
    d->buckets = calloc((size_t)d->bucket_count, sizeof(DoorLock_FrameDictEntry*));
    return d;
}

static void DoorLock_FrameDict_destroy(DoorLock_FrameDict* d) {
    for (int b = 0; b < d->bucket_count; b++) {
        DoorLock_FrameDictEntry* e = d->buckets[b];
        while (e != NULL) {
            DoorLock_FrameDictEntry* after = e->next;
            free(e->key);
            free(e);
            e = after;
        }
    }
    free(d->buckets);
    free(d);
}

// ---- DoorLock_FrameVec: pointers and their owned flags ----------------------

typedef struct {
    void** items;
    unsigned char* owned;
    int size;
    int capacity;
} DoorLock_FrameVec;

static DoorLock_FrameVec* DoorLock_FrameVec_new(void) {
    DoorLock_FrameVec* v = malloc(sizeof(DoorLock_FrameVec));
    v->size = 0;
    v->capacity = 8;
    v->items = malloc(sizeof(void*) * (size_t)v->capacity);
    v->owned = calloc((size_t)v->capacity, 1);
    return v;
}

static void DoorLock_FrameVec_push(DoorLock_FrameVec* v, void* item) {
    if (v->size == v->capacity) {
        v->capacity *= 2;
        v->items = realloc(v->items, sizeof(void*) * (size_t)v->capacity);
        v->owned = realloc(v->owned, (size_t)v->capacity);
    }
    v->owned[v->size] = 0;
    v->items[v->size++] = item;
}

static void* DoorLock_FrameVec_pop(DoorLock_FrameVec* v) {
    return v->size > 0 ? v->items[--v->size] : NULL;
}

static void* DoorLock_FrameVec_get(DoorLock_FrameVec* v, int i) {
    return (v != NULL && i >= 0 && i < v->size) ? v->items[i] : NULL;
}

static void* DoorLock_FrameVec_last(DoorLock_FrameVec* v) {
    return v->size > 0 ? v->items[v->size - 1] : NULL;
}

static void DoorLock_FrameVec_destroy(DoorLock_FrameVec* v) {
    if (v == NULL) return;
    for (int i = 0; i < v->size; i++) {
        if (v->owned[i]) free(v->items[i]);
    }
    free(v->owned);
    free(v->items);
    free(v);
}

// ---- DoorLock_FrameEvent, DoorLock_FrameContext -----------------------------

typedef struct {
    const char* _message;
    DoorLock_FrameVec* _parameters;
    int _owns_parameters;
} DoorLock_FrameEvent;

static DoorLock_FrameEvent* DoorLock_FrameEvent_new(const char* message, DoorLock_FrameVec* parameters, int owns) {
    DoorLock_FrameEvent* e = malloc(sizeof(DoorLock_FrameEvent));
    e->_message = message;
    e->_parameters = parameters;
    e->_owns_parameters = owns;
    return e;
}

static void DoorLock_FrameEvent_destroy(DoorLock_FrameEvent* e) {
    if (e->_owns_parameters) DoorLock_FrameVec_destroy(e->_parameters);
    free(e);
}

typedef struct {
    DoorLock_FrameEvent* event;
    void* _return;
    DoorLock_FrameDict* _data;
    int _transitioned;
} DoorLock_FrameContext;

static DoorLock_FrameContext* DoorLock_FrameContext_new(DoorLock_FrameEvent* event, void* default_return) {
    DoorLock_FrameContext* c = malloc(sizeof(DoorLock_FrameContext));
    c->event = event;
    c->_return = default_return;
    c->_data = DoorLock_FrameDict_new();
    c->_transitioned = 0;
    return c;
}

static void DoorLock_FrameContext_destroy(DoorLock_FrameContext* c) {
    DoorLock_FrameDict_destroy(c->_data);
    free(c);
}

// ---- DoorLock_Compartment: refcounted state closure -------------------------

typedef struct DoorLock_Compartment {
    const char* state;
    DoorLock_FrameVec* state_args;
    DoorLock_FrameDict* state_vars;
    DoorLock_FrameVec* enter_args;
    DoorLock_FrameVec* exit_args;
    DoorLock_FrameEvent* forward_event;
    struct DoorLock_Compartment* parent_compartment;
    int _ref_count;
} DoorLock_Compartment;

static DoorLock_Compartment* DoorLock_Compartment_new(const char* state) {
    DoorLock_Compartment* c = malloc(sizeof(DoorLock_Compartment));
    c->state = state;
    c->state_args = DoorLock_FrameVec_new();
    c->state_vars = DoorLock_FrameDict_new();
    c->enter_args = DoorLock_FrameVec_new();
    c->exit_args = DoorLock_FrameVec_new();
    c->forward_event = NULL;
    c->parent_compartment = NULL;
    c->_ref_count = 1;
    return c;
}

static void DoorLock_Compartment_unref(DoorLock_Compartment* c) {
    if (c == NULL || --c->_ref_count > 0) return;
    DoorLock_Compartment_unref(c->parent_compartment);
    DoorLock_FrameVec_destroy(c->state_args);
    DoorLock_FrameDict_destroy(c->state_vars);
    DoorLock_FrameVec_destroy(c->enter_args);
    DoorLock_FrameVec_destroy(c->exit_args);
    free(c);
}

#define DoorLock_CTX(self) ((DoorLock_FrameContext*)DoorLock_FrameVec_last((self)->_context_stack))

// Forward declarations
typedef struct DoorLock DoorLock;
static void DoorLock_kernel(DoorLock* self, DoorLock_FrameEvent* __e);
static void DoorLock_router(DoorLock* self, DoorLock_FrameEvent* __e);
static void DoorLock_transition(DoorLock* self, DoorLock_Compartment* next);
static int DoorLock_hsm_chain(DoorLock* self, const char* leaf, const char*** out_chain);
static DoorLock_Compartment* DoorLock_prepareEnter(DoorLock* self, const char* leaf, DoorLock_FrameVec* state_args, DoorLock_FrameVec* enter_args);
static void DoorLock_state_Unlocked(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_state_Locked(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_s_Unlocked_hdl_user_lock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_s_Locked_hdl_frame_enter(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_s_Locked_hdl_user_knock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_s_Locked_hdl_user_unlock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
static void DoorLock_s_Locked_hdl_user_get_failures(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment);
void DoorLock_note_failure (DoorLock* self);
void DoorLock_lock (DoorLock* self);
void DoorLock_knock (DoorLock* self);
void DoorLock_unlock (DoorLock* self, int code);
int DoorLock_get_failures (DoorLock* self);

struct DoorLock {
    DoorLock_FrameVec* _state_stack;
    DoorLock_Compartment* __compartment;
    DoorLock_Compartment* __next_compartment;
    DoorLock_FrameVec* _context_stack;
    int secret;
    int failures;
    int knocks;
    int locks;
};

DoorLock* DoorLock_new(void) {
    DoorLock* self = calloc(1, sizeof(DoorLock));
    self->_state_stack = DoorLock_FrameVec_new();
    self->_context_stack = DoorLock_FrameVec_new();
    self->secret = 1234;
    self->__compartment = DoorLock_prepareEnter(self, "Unlocked", NULL, NULL);
    self->__next_compartment = NULL;
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("$>", self->__compartment->enter_args, 0);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_FrameContext_destroy((DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack));
    DoorLock_FrameEvent_destroy(__e);
    return self;
}

DoorLock* DoorLock_create(void) {
    DoorLock* self = DoorLock_new();
    self->_state_stack = DoorLock_FrameVec_new();
    self->_context_stack = DoorLock_FrameVec_new();
    self->secret = 1234;
    self->__compartment = DoorLock_prepareEnter(self, "Unlocked", NULL, NULL);
    self->__next_compartment = NULL;
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("$>", self->__compartment->enter_args, 0);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_kernel(self, __e);
    DoorLock_FrameContext_destroy((DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack));
    DoorLock_FrameEvent_destroy(__e);
    return self;
}

static int DoorLock_hsm_chain(DoorLock* self, const char* leaf, const char*** out_chain) {
    (void)self;
    if (strcmp(leaf, "Unlocked") == 0) {
        static const char* chain[] = { "Unlocked" };
        *out_chain = chain;
        return 1;
    } else if (strcmp(leaf, "Locked") == 0) {
        static const char* chain[] = { "Locked" };
        *out_chain = chain;
        return 1;
    }
    *out_chain = NULL;
    return 0;
}

static DoorLock_Compartment* DoorLock_prepareEnter(DoorLock* self, const char* leaf, DoorLock_FrameVec* state_args, DoorLock_FrameVec* enter_args) {
    const char** chain = NULL;
    int n = DoorLock_hsm_chain(self, leaf, &chain);
    DoorLock_Compartment* comp = NULL;
    for (int i = 0; i < n; i++) {
        DoorLock_Compartment* nc = DoorLock_Compartment_new(chain[i]);
        for (int j = 0; state_args != NULL && j < state_args->size; j++) DoorLock_FrameVec_push(nc->state_args, state_args->items[j]);
        for (int j = 0; enter_args != NULL && j < enter_args->size; j++) DoorLock_FrameVec_push(nc->enter_args, enter_args->items[j]);
        nc->parent_compartment = comp;
        comp = nc;
    }
    return comp;
}

static void DoorLock_kernel(DoorLock* self, DoorLock_FrameEvent* __e) {
    DoorLock_router(self, __e);
    while (self->__next_compartment != NULL) {
        DoorLock_Compartment* next = self->__next_compartment;
        self->__next_compartment = NULL;
        DoorLock_FrameEvent* __exit_event = DoorLock_FrameEvent_new("<$", self->__compartment->exit_args, 0);
        DoorLock_router(self, __exit_event);
        DoorLock_FrameEvent_destroy(__exit_event);
        DoorLock_Compartment_unref(self->__compartment);
        self->__compartment = next;
        DoorLock_FrameEvent* __enter_event = DoorLock_FrameEvent_new("$>", self->__compartment->enter_args, 0);
        DoorLock_router(self, __enter_event);
        DoorLock_FrameEvent_destroy(__enter_event);
        for (int i = 0; i < self->_context_stack->size; i++) {
            ((DoorLock_FrameContext*)self->_context_stack->items[i])->_transitioned = 1;
        }
    }
}

static void DoorLock_router(DoorLock* self, DoorLock_FrameEvent* __e) {
    if (strcmp(self->__compartment->state, "Unlocked") == 0) {
        DoorLock_state_Unlocked(self, __e, self->__compartment);
    } else if (strcmp(self->__compartment->state, "Locked") == 0) {
        DoorLock_state_Locked(self, __e, self->__compartment);
    }
}

static void DoorLock_transition(DoorLock* self, DoorLock_Compartment* next) {
    self->__next_compartment = next;
}

void DoorLock_destroy(DoorLock* self) {
    if (self->__compartment) DoorLock_Compartment_unref(self->__compartment);
    if (self->__next_compartment) DoorLock_Compartment_unref(self->__next_compartment);
    if (self->_state_stack) {
        for (int i = 0; i < self->_state_stack->size; i++) {
            DoorLock_Compartment_unref((DoorLock_Compartment*)self->_state_stack->items[i]);
        }
        DoorLock_FrameVec_destroy(self->_state_stack);
    }
    if (self->_context_stack) DoorLock_FrameVec_destroy(self->_context_stack);
    free(self);
}

void DoorLock_lock(DoorLock* self) {
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("lock", NULL, 0);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_kernel(self, __e);
    DoorLock_FrameContext* __result_ctx = (DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack);
    DoorLock_FrameContext_destroy(__result_ctx);
    DoorLock_FrameEvent_destroy(__e);
}

void DoorLock_knock(DoorLock* self) {
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("knock", NULL, 0);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_kernel(self, __e);
    DoorLock_FrameContext* __result_ctx = (DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack);
    DoorLock_FrameContext_destroy(__result_ctx);
    DoorLock_FrameEvent_destroy(__e);
}

void DoorLock_unlock(DoorLock* self, int code) {
    DoorLock_FrameVec* __params = DoorLock_FrameVec_new();
    DoorLock_FrameVec_push(__params, (void*)(intptr_t)code);
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("unlock", __params, 1);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_kernel(self, __e);
    DoorLock_FrameContext* __result_ctx = (DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack);
    DoorLock_FrameContext_destroy(__result_ctx);
    DoorLock_FrameEvent_destroy(__e);
}

int DoorLock_get_failures(DoorLock* self) {
    DoorLock_FrameEvent* __e = DoorLock_FrameEvent_new("get_failures", NULL, 0);
    DoorLock_FrameContext* __ctx = DoorLock_FrameContext_new(__e, NULL);
    DoorLock_FrameVec_push(self->_context_stack, __ctx);
    DoorLock_kernel(self, __e);
    DoorLock_FrameContext* __result_ctx = (DoorLock_FrameContext*)DoorLock_FrameVec_pop(self->_context_stack);
    int __result = (int)(intptr_t)__result_ctx->_return;
    DoorLock_FrameContext_destroy(__result_ctx);
    DoorLock_FrameEvent_destroy(__e);
    return __result;
}

static void DoorLock_state_Unlocked(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    if (strcmp(__e->_message, "lock") == 0) {
        DoorLock_s_Unlocked_hdl_user_lock(self, __e, compartment);
        return;
    }
}

static void DoorLock_state_Locked(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    if (strcmp(__e->_message, "$>") == 0) {
        DoorLock_s_Locked_hdl_frame_enter(self, __e, compartment);
        return;
    }
    if (strcmp(__e->_message, "get_failures") == 0) {
        DoorLock_s_Locked_hdl_user_get_failures(self, __e, compartment);
        return;
    }
    if (strcmp(__e->_message, "knock") == 0) {
        DoorLock_s_Locked_hdl_user_knock(self, __e, compartment);
        return;
    }
    if (strcmp(__e->_message, "unlock") == 0) {
        DoorLock_s_Locked_hdl_user_unlock(self, __e, compartment);
        return;
    }
}

static void DoorLock_s_Unlocked_hdl_user_lock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    (void)__e;
    (void)compartment;
    {
        DoorLock_Compartment* __compartment = DoorLock_prepareEnter(self, "Locked", NULL, NULL);
        DoorLock_transition(self, __compartment);
    }
    return;
}

static void DoorLock_s_Locked_hdl_frame_enter(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    (void)__e;
    (void)compartment;
    self->locks = self->locks + 1;
}

static void DoorLock_s_Locked_hdl_user_knock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    (void)__e;
    (void)compartment;
    self->knocks = self->knocks + 1;
}

static void DoorLock_s_Locked_hdl_user_unlock(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    (void)compartment;
    int code = (int)(intptr_t)DoorLock_FrameVec_get(__e->_parameters, 0);
    if (code != self->secret) {
        DoorLock_note_failure(self);
        return;
    }
    {
        DoorLock_Compartment* __compartment = DoorLock_prepareEnter(self, "Unlocked", NULL, NULL);
        DoorLock_transition(self, __compartment);
    }
    return;
}

static void DoorLock_s_Locked_hdl_user_get_failures(DoorLock* self, DoorLock_FrameEvent* __e, DoorLock_Compartment* compartment) {
    (void)__e;
    (void)compartment;
    DoorLock_CTX(self)->_return = (void*)(intptr_t)(self->failures);
}

void DoorLock_note_failure(DoorLock* self) {
    self->failures = self->failures + 1;
}
