// The module's one keyring, shared by every src/wasm/exports_<area>.cpp: key handles returned by
// sp_key_generate / sp_key_import are valid in every area's exports.
#pragma once

#include "core/keyring.hpp"

namespace sealpost::wasm {

sealpost::Keyring& keyring();

}  // namespace sealpost::wasm
