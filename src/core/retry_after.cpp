#include "core/retry_after.hpp"

#include <array>

namespace sealpost::retry_after {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(std::int64_t year, unsigned month) {
  static constexpr unsigned kLengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kLengths[month - 1];
}

// A cursor over the text that reads fixed pieces and fails softly.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool literal(std::string_view piece) {
    if (text_.substr(0, piece.size()) != piece) return false;
    text_.remove_prefix(piece.size());
    return true;
  }
  // Exactly `count` digits (or, with allow_space_pad, a space then count-1 digits: asctime's day).
  bool digits(std::size_t count, int& value, bool allow_space_pad = false) {
    if (text_.size() < count) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[i];
      if (c == ' ' && allow_space_pad && i == 0) continue;
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    text_.remove_prefix(count);
    return true;
  }
  template <std::size_t N>
  bool one_of(const std::array<std::string_view, N>& names, unsigned& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<unsigned>(i);
        return true;
      }
    }
    return false;
  }
  bool done() const { return text_.empty(); }

 private:
  std::string_view text_;
};

bool read_time(Cursor& in, int& hour, int& minute, int& second) {
  return in.digits(2, hour) && in.literal(":") && in.digits(2, minute) && in.literal(":") && in.digits(2, second);
}

std::optional<std::int64_t> to_ms(std::int64_t year, unsigned month, int day, int hour, int minute, int second) {
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  if (second == 60) second = 59;  // a leap second names the last second of its minute
  const std::int64_t days = days_from_civil(year, month, static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute) * 60000 + static_cast<std::int64_t>(second) * 1000;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::int64_t> imf_fixdate(std::string_view text) {
  Cursor in(text);
  unsigned weekday = 0, month = 0;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!(in.one_of(kDays, weekday) && in.literal(", ") && in.digits(2, day) && in.literal(" ") &&
        in.one_of(kMonths, month) && in.literal(" ") && in.digits(4, year) && in.literal(" ") &&
        read_time(in, hour, minute, second) && in.literal(" GMT") && in.done())) {
    return std::nullopt;
  }
  return to_ms(year, month + 1, day, hour, minute, second);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year more than 50 years ahead is in the past century
// (RFC 9110 §5.6.7), judged against 1970 + 50 here since the parser has no clock: 00-69 → 20xx.
std::optional<std::int64_t> rfc850_date(std::string_view text) {
  Cursor in(text);
  unsigned weekday = 0, month = 0;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!(in.one_of(kLongDays, weekday) && in.literal(", ") && in.digits(2, day) && in.literal("-") &&
        in.one_of(kMonths, month) && in.literal("-") && in.digits(2, year) && in.literal(" ") &&
        read_time(in, hour, minute, second) && in.literal(" GMT") && in.done())) {
    return std::nullopt;
  }
  return to_ms(year < 70 ? 2000 + year : 1900 + year, month + 1, day, hour, minute, second);
}

// "Sun Nov  6 08:49:37 1994"
std::optional<std::int64_t> asctime_date(std::string_view text) {
  Cursor in(text);
  unsigned weekday = 0, month = 0;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!(in.one_of(kDays, weekday) && in.literal(" ") && in.one_of(kMonths, month) && in.literal(" ") &&
        in.digits(2, day, true) && in.literal(" ") && read_time(in, hour, minute, second) && in.literal(" ") &&
        in.digits(4, year) && in.done())) {
    return std::nullopt;
  }
  return to_ms(year, month + 1, day, hour, minute, second);
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  value = trim(value);
  if (auto ms = imf_fixdate(value)) return ms;
  if (auto ms = rfc850_date(value)) return ms;
  return asctime_date(value);
}

std::optional<std::int64_t> parse(std::string_view value, std::int64_t now_ms) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    std::int64_t seconds = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') return std::nullopt;
      seconds = seconds * 10 + (c - '0');
      if (seconds > kMaxDeltaSeconds) seconds = kMaxDeltaSeconds;
    }
    return now_ms + seconds * 1000;
  }
  return parse_http_date(value);
}

Status check(ByteView bytes) {
  return parse(as_text(bytes), 0).has_value() ? Status::ok : Status::malformed;
}

}  // namespace sealpost::retry_after
