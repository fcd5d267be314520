#pragma once

#include <stdbool.h>
#include <stdint.h>

/// Starts (true) or stops (false) counting the process's allocation calls: malloc, calloc, realloc
/// and the aligned allocations, from every thread and library. Calls pair up: counting goes on until
/// every start has had its stop, so two measurements at once do not cut each other short. Off, the
/// only cost per allocation is one relaxed load.
void kamii_allocation_counting(bool on);

/// How many allocation calls have been counted since the process started.
uint64_t kamii_allocation_count(void);

/// How many of them the calling thread made.
uint64_t kamii_allocation_count_on_this_thread(void);
