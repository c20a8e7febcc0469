#include "core/sodium_init.hpp"

#include <sodium.h>

namespace sealpost {

bool ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace sealpost
