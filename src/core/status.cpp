#include "core/status.hpp"

namespace sealpost {

std::string_view status_name(int status) {
  switch (status) {
#define SEALPOST_STATUS_CASE(name, number, text) \
  case number:                                   \
    return text;
    SEALPOST_STATUS_LIST(SEALPOST_STATUS_CASE)
#undef SEALPOST_STATUS_CASE
    default:
      return {};
  }
}

}  // namespace sealpost
