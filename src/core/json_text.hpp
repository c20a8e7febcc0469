// One way into nlohmann/json's parser for the whole core. Every caller parsing through the same function
// (one input type, one SAX handler) keeps a single copy of nlohmann's lexer and parser in the Wasm
// module; json::parse(first, last, nullptr, false) would also bring in the callback parser, which
// nothing here uses.
#pragma once

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"

namespace sealpost {

// `text` as one JSON value (strict: nothing but whitespace after it), or a discarded value when it is
// not one. Same results as json::parse(text, nullptr, false); never throws or aborts.
nlohmann::json parse_json(ByteView text);

inline nlohmann::json parse_json(std::string_view text) { return parse_json(as_bytes(text)); }

}  // namespace sealpost
