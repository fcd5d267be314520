#ifndef KAMII_MEMORY_HINTS_H
#define KAMII_MEMORY_HINTS_H

/// Asks the CPU to start loading the cache line at `address`, to be written soon, without waiting
/// for it: a table slot known a few microseconds before it is updated arrives in the meantime
/// instead of stalling the update. A hint only: any address is allowed, and nothing is read.
static inline void kamii_prefetch_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
