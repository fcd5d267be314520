#include <isa-l/igzip_lib.h>

/// The level buffer igzip needs at `level` (1–3; 0 needs none). The sizes are macros Swift
/// cannot import.
static inline unsigned int kamii_isal_level_buffer_size(int level) {
    switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return 0;
    }
}
