// Smaller stand-ins, in the Wasm modules only, for the two libc functions nlohmann/json reaches:
//
// - strtod: nlohmann's lexer calls it for every JSON number with a fraction or an exponent (and for
//   integers too large for 64 bits), after it has checked the number's grammar. musl's strtod and the
//   long-double arithmetic it needs (__addtf3, __multf3, __divtf3, fmodl, scalbnl) were about 13 KB of
//   code. The host's own number parser (JavaScript's Number(), correctly rounded like musl's) does the
//   conversion instead, through the import sealpost_parse_number (src/wasm/imports.js).
// - snprintf: nlohmann formats only small unsigned integers with it ("\u%04x" for control characters in
//   strings it writes, "<U+%.4X>" and "%.2hhX" in parse error messages). musl's printf_core with its
//   floating-point formatting was about 7 KB. This one handles flags '0' and '-', a width, a precision,
//   the length modifiers hh, h, l, ll, z, j, t and the conversions d i u x X c s %; anything else is
//   copied as it is.
//
// The native build keeps the C library's functions (nothing here is compiled for it).
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// Provided by the host (js/wasm/core.js, WasmCore#imports).
extern double sealpost_parse_number(const char* text, size_t length);

static int is_digit(char c) { return c >= '0' && c <= '9'; }

// The longest prefix of `s` in JSON's number grammar (sign, digits, fraction, exponent), as strtod's
// end; the host converts that prefix. No prefix: 0 and *end = s, as strtod does.
double strtod(const char* restrict s, char** restrict end) {
  const char* p = s;
  if (*p == '-' || *p == '+') ++p;
  const char* digits = p;
  while (is_digit(*p)) ++p;
  int any = p != digits;
  if (*p == '.') {
    const char* fraction = p + 1;
    const char* q = fraction;
    while (is_digit(*q)) ++q;
    if (any || q != fraction) {
      any = 1;
      p = q;
    }
  }
  if (!any) {
    if (end) *end = (char*)s;
    return 0;
  }
  if (*p == 'e' || *p == 'E') {
    const char* q = p + 1;
    if (*q == '-' || *q == '+') ++q;
    const char* exponent = q;
    while (is_digit(*q)) ++q;
    if (q != exponent) p = q;
  }
  if (end) *end = (char*)p;
  return sealpost_parse_number(s, (size_t)(p - s));
}

// musl defines strtof and strtold in strtod's object file, and libc++'s string.o (std::stof, std::stold,
// which sealpost never calls) refers to them: defined here too, so that object file stays out of the link.
float strtof(const char* restrict s, char** restrict end) { return (float)strtod(s, end); }
long double strtold(const char* restrict s, char** restrict end) { return strtod(s, end); }

typedef struct {
  char* out;
  size_t size;   // capacity of out, including the terminating NUL
  size_t count;  // characters the full result has
} Sink;

static void put(Sink* sink, char c) {
  if (sink->count + 1 < sink->size) sink->out[sink->count] = c;
  ++sink->count;
}

static void put_padded(Sink* sink, const char* text, size_t length, size_t width, int left, char pad) {
  if (!left) {
    for (size_t i = length; i < width; ++i) put(sink, pad);
  }
  for (size_t i = 0; i < length; ++i) put(sink, text[i]);
  if (left) {
    for (size_t i = length; i < width; ++i) put(sink, ' ');
  }
}

int vsnprintf(char* restrict out, size_t size, const char* restrict format, va_list args) {
  Sink sink = {out, size, 0};
  for (const char* f = format; *f; ++f) {
    if (*f != '%') {
      put(&sink, *f);
      continue;
    }
    const char* start = f++;
    int left = 0;
    char pad = ' ';
    for (;; ++f) {
      if (*f == '-') left = 1;
      else if (*f == '0') pad = '0';
      else break;
    }
    size_t width = 0;
    while (is_digit(*f)) width = width * 10 + (size_t)(*f++ - '0');
    int precision = -1;
    if (*f == '.') {
      ++f;
      precision = 0;
      while (is_digit(*f)) precision = precision * 10 + (*f++ - '0');
    }
    int size_class = 0;  // 0 int, 1 long, 2 long long, -1 char, -2 short
    for (;; ++f) {
      if (*f == 'h') size_class = size_class == -2 ? -1 : -2;
      else if (*f == 'l') size_class = size_class == 1 ? 2 : 1;
      else if (*f == 'z' || *f == 'j' || *f == 't') size_class = *f == 'j' ? 2 : 1;
      else break;
    }
    char buffer[24];
    const char* text = buffer;
    size_t length = 0;
    const char conversion = *f;
    if (conversion == 'd' || conversion == 'i' || conversion == 'u' || conversion == 'x' || conversion == 'X') {
      const int is_signed = conversion == 'd' || conversion == 'i';
      uint64_t value;
      int negative = 0;
      if (is_signed) {
        int64_t v = size_class == 2 ? va_arg(args, long long) : size_class == 1 ? va_arg(args, long) : va_arg(args, int);
        if (size_class == -1) v = (signed char)v;
        if (size_class == -2) v = (short)v;
        negative = v < 0;
        value = negative ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
      } else {
        value = size_class == 2   ? va_arg(args, unsigned long long)
                : size_class == 1 ? va_arg(args, unsigned long)
                                  : va_arg(args, unsigned int);
        if (size_class == -1) value = (unsigned char)value;
        if (size_class == -2) value = (unsigned short)value;
      }
      const unsigned base = (conversion == 'x' || conversion == 'X') ? 16 : 10;
      const char* alphabet = conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      char* end = buffer + sizeof buffer;
      char* p = end;
      while (value) {
        *--p = alphabet[value % base];
        value /= base;
      }
      if (precision < 0) {
        precision = 1;
      } else {
        pad = ' ';  // with a precision, the '0' flag is ignored
      }
      while (end - p < precision && p > buffer + 1) *--p = '0';
      if (negative) *--p = '-';
      text = p;
      length = (size_t)(end - p);
      if (pad == '0' && !left && negative && length < width) {
        put(&sink, '-');
        ++text;
        --length;
        --width;
      }
    } else if (conversion == 'c') {
      buffer[0] = (char)va_arg(args, int);
      length = 1;
      pad = ' ';
    } else if (conversion == 's') {
      text = va_arg(args, const char*);
      if (!text) text = "(null)";
      while (text[length] && (precision < 0 || length < (size_t)precision)) ++length;
      pad = ' ';
    } else if (conversion == '%') {
      put(&sink, '%');
      continue;
    } else {
      // Not a conversion this implementation knows: copy the directive unchanged.
      for (const char* c = start; c <= f && *c; ++c) put(&sink, *c);
      if (!*f) break;
      continue;
    }
    put_padded(&sink, text, length, width, left, left ? ' ' : pad);
  }
  if (size) out[sink.count < size ? sink.count : size - 1] = '\0';
  return (int)sink.count;
}

int snprintf(char* restrict out, size_t size, const char* restrict format, ...) {
  va_list args;
  va_start(args, format);
  const int count = vsnprintf(out, size, format, args);
  va_end(args);
  return count;
}
