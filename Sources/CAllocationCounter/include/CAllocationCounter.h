#pragma once

#include <stdbool.h>
#include <stdint.h>

/// Starts (true) or stops counting the process's allocation calls: malloc, calloc, realloc and the
/// aligned allocations, from every thread and library. Off, the only cost per call is one relaxed load.
void kamii_allocation_counting(bool on);

/// How many allocation calls have been counted since the process started.
uint64_t kamii_allocation_count(void);
