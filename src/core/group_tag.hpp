// Group tags: the FIFO group of an outbox entry is stored as a keyed BLAKE2b hash, so IndexedDB shows which
// entries share a group without showing the group's name.
//   tag = BLAKE2b-128(key = group key, "sealpost/outbox-group/v1" ‖ group)
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"
#include "core/status.hpp"

namespace sealpost {

inline constexpr std::size_t kGroupTagBytes = 16;
using GroupTag = std::array<std::uint8_t, kGroupTagBytes>;

Status group_tag(ByteView key, std::string_view group, GroupTag& tag);

}  // namespace sealpost
