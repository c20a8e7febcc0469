// Every block the module's C++ code frees is zeroed first.
//
// Keys and plaintexts that sealpost holds itself live in SecretBytes, which zero themselves. But decoded
// messages also pass through nlohmann::json values, std::strings and std::vectors (push message fields,
// request headers, JSON text being written), and those free their memory as they found it. In a Wasm
// module the heap is linear memory that JS can read, and a freed block keeps its bytes until it is reused.
// Replacing the global operator delete zeroes every such block, whatever container held it.
#include <emscripten/emmalloc.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

void zero_and_free(void* block) noexcept {
  if (block == nullptr) return;
  std::memset(block, 0, emmalloc_usable_size(block));
  // The zeroed bytes are "read" here, so the memset is not dropped as a dead store before free().
  __asm__ __volatile__("" : : "r"(block) : "memory");
  std::free(block);
}

}  // namespace

void operator delete(void* block) noexcept { zero_and_free(block); }
void operator delete[](void* block) noexcept { zero_and_free(block); }
void operator delete(void* block, std::size_t) noexcept { zero_and_free(block); }
void operator delete[](void* block, std::size_t) noexcept { zero_and_free(block); }
void operator delete(void* block, const std::nothrow_t&) noexcept { zero_and_free(block); }
void operator delete[](void* block, const std::nothrow_t&) noexcept { zero_and_free(block); }
void operator delete(void* block, std::align_val_t) noexcept { zero_and_free(block); }
void operator delete[](void* block, std::align_val_t) noexcept { zero_and_free(block); }
void operator delete(void* block, std::size_t, std::align_val_t) noexcept { zero_and_free(block); }
void operator delete[](void* block, std::size_t, std::align_val_t) noexcept { zero_and_free(block); }
