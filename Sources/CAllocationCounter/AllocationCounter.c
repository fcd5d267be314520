// Counts allocation calls for `kamii bench-capture` (mallocs per event, measured on the real
// pipeline in the operator's own binary). The kamii executable defines the allocation functions:
// ELF looks symbols up in the executable first, so every library's calls come here. Each forwards
// to the next definition in lookup order (RTLD_NEXT): glibc's, or an allocator the operator
// preloads (LD_PRELOAD=libjemalloc.so) — the heap is never ours.

#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

// How many measurements are under way (starts less stops).
static atomic_int counting;
static atomic_uint_fast64_t count;
static _Thread_local uint64_t thread_count;

static inline void note_allocation(void) {
    if (__builtin_expect(atomic_load_explicit(&counting, memory_order_relaxed) > 0, 0)) {
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
        thread_count += 1;
    }
}

void kamii_allocation_counting(bool on) { atomic_fetch_add_explicit(&counting, on ? 1 : -1, memory_order_relaxed); }

uint64_t kamii_allocation_count(void) { return atomic_load_explicit(&count, memory_order_relaxed); }

uint64_t kamii_allocation_count_on_this_thread(void) { return thread_count; }

// The next definitions, found on the first call. Should looking them up allocate, that allocation
// is served from a small static buffer (its frees are ignored) instead of recursing.
static void *(*_Atomic next_malloc)(size_t);
static void *(*_Atomic next_calloc)(size_t, size_t);
static void *(*_Atomic next_realloc)(void *, size_t);
static void (*_Atomic next_free)(void *);
static void *(*_Atomic next_memalign)(size_t, size_t);
static void *(*_Atomic next_aligned_alloc)(size_t, size_t);
static int (*_Atomic next_posix_memalign)(void **, size_t, size_t);

static _Thread_local bool resolving;
static _Alignas(16) unsigned char bootstrap[8192];
static atomic_size_t bootstrap_used;

static void *bootstrap_allocation(size_t size) {
    if (size > sizeof bootstrap) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = (size + 15) & ~(size_t)15;
    size_t start = atomic_fetch_add(&bootstrap_used, rounded);
    if (start + rounded > sizeof bootstrap) {
        errno = ENOMEM;
        return NULL;
    }
    return bootstrap + start;
}

static bool is_bootstrap(const void *pointer) {
    return (const unsigned char *)pointer >= bootstrap && (const unsigned char *)pointer < bootstrap + sizeof bootstrap;
}

// glibc's own entry points: what a lookup that finds nothing falls back to.
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static void *libc_aligned_alloc(size_t alignment, size_t size) { return __libc_memalign(alignment, size); }

static int libc_posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

static void resolve(void) {
    resolving = true;
    void *found;
    next_calloc = (found = dlsym(RTLD_NEXT, "calloc")) ? found : (void *)__libc_calloc;
    next_realloc = (found = dlsym(RTLD_NEXT, "realloc")) ? found : (void *)__libc_realloc;
    next_free = (found = dlsym(RTLD_NEXT, "free")) ? found : (void *)__libc_free;
    next_memalign = (found = dlsym(RTLD_NEXT, "memalign")) ? found : (void *)__libc_memalign;
    next_aligned_alloc = (found = dlsym(RTLD_NEXT, "aligned_alloc")) ? found : (void *)libc_aligned_alloc;
    next_posix_memalign = (found = dlsym(RTLD_NEXT, "posix_memalign")) ? found : (void *)libc_posix_memalign;
    // Last: it is the one every entry point checks.
    next_malloc = (found = dlsym(RTLD_NEXT, "malloc")) ? found : (void *)__libc_malloc;
    resolving = false;
}

// True when the next definitions can be called; false while this thread is looking them up.
static inline bool ready(void) {
    if (__builtin_expect(next_malloc != NULL, 1)) return true;
    if (resolving) return false;
    resolve();
    return true;
}

void *malloc(size_t size) {
    note_allocation();
    if (!ready()) return bootstrap_allocation(size);
    return next_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note_allocation();
    if (!ready()) {
        if (size != 0 && count > (size_t)-1 / size) {
            errno = ENOMEM;
            return NULL;
        }
        return bootstrap_allocation(count * size);  // static storage: zeroed already
    }
    return next_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    note_allocation();
    if (!ready()) return NULL;
    if (is_bootstrap(pointer)) {
        void *moved = next_malloc(size);
        if (moved == NULL) return NULL;
        size_t available = (size_t)(bootstrap + sizeof bootstrap - (unsigned char *)pointer);
        memcpy(moved, pointer, size < available ? size : available);
        return moved;
    }
    return next_realloc(pointer, size);
}

void free(void *pointer) {
    if (pointer == NULL || is_bootstrap(pointer)) return;
    if (ready()) next_free(pointer);
}

void *memalign(size_t alignment, size_t size) {
    note_allocation();
    if (!ready()) return NULL;
    return next_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    note_allocation();
    if (!ready()) return NULL;
    return next_aligned_alloc(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    note_allocation();
    if (!ready()) return ENOMEM;
    return next_posix_memalign(result, alignment, size);
}
