#include "core/stack_wipe.hpp"

#include <cstring>

namespace sealpost {

// Not inlined, so that `scratch` lies below the caller's frame, where the callees' frames were. The empty
// asm statement tells the compiler the zeroed bytes are read, so the memset is not dropped as dead.
[[gnu::noinline]] void wipe_stack() {
  unsigned char scratch[kStackWipeBytes];
  std::memset(scratch, 0, sizeof scratch);
  __asm__ __volatile__("" : : "r"(scratch) : "memory");
}

}  // namespace sealpost
