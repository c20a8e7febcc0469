// libsodium must be initialised once before any primitive runs; every core entry point that uses it
// calls ensure_sodium() (cheap after the first call).
#pragma once

namespace sealpost {

// Returns false if libsodium could not initialise (no entropy source).
bool ensure_sodium();

}  // namespace sealpost
