// base64url (RFC 4648 §5) through libsodium's codecs: encoding never pads; decoding accepts text with or
// without trailing '=' padding and rejects anything else that is not in the alphabet.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace sealpost {

std::string base64url_encode(ByteView bytes);
std::optional<Bytes> base64url_decode(std::string_view text);

}  // namespace sealpost
