#include "core/json_text.hpp"

namespace sealpost {

nlohmann::json parse_json(ByteView text) {
  using nlohmann::json;
  json result;
  nlohmann::detail::json_sax_dom_parser<json> builder(result, false);
  if (!json::sax_parse(text.data(), text.data() + text.size(), &builder, json::input_format_t::json, true) ||
      builder.is_errored()) {
    return json(json::value_t::discarded);
  }
  return result;
}

}  // namespace sealpost
