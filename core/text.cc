#include "core/text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace llada {
namespace {

// Decodes one UTF-8 code point at text[pos]; returns its length (1 for bytes
// that are not valid UTF-8, which are then treated as opaque).
size_t DecodeUtf8(std::string_view text, size_t pos, uint32_t* code_point) {
  unsigned char c = static_cast<unsigned char>(text[pos]);
  size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
  if (pos + length > text.size()) length = 1;
  if (length == 1) {
    *code_point = c;
    return 1;
  }
  uint32_t cp = c & (0xff >> (length + 1));
  for (size_t i = 1; i < length; ++i) {
    unsigned char cc = static_cast<unsigned char>(text[pos + i]);
    if ((cc & 0xc0) != 0x80) {
      *code_point = c;
      return 1;
    }
    cp = (cp << 6) | (cc & 0x3f);
  }
  *code_point = cp;
  return length;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// The code points for which Python's str.isspace() is true.
bool IsPyWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// Byte offset just past the last non-whitespace code point.
size_t EndOfContent(std::string_view text, size_t begin) {
  size_t end = begin;
  for (size_t pos = begin; pos < text.size();) {
    uint32_t cp;
    size_t length = DecodeUtf8(text, pos, &cp);
    pos += length;
    if (!IsPyWhitespace(cp)) end = pos;
  }
  return end;
}

}  // namespace

std::string PyStrip(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    uint32_t cp;
    size_t length = DecodeUtf8(text, begin, &cp);
    if (!IsPyWhitespace(cp)) break;
    begin += length;
  }
  return std::string(text.substr(begin, EndOfContent(text, begin) - begin));
}

std::string PyRStrip(std::string_view text) { return std::string(text.substr(0, EndOfContent(text, 0))); }

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(separator, pos);
    parts.emplace_back(text.substr(pos, hit == std::string_view::npos ? hit : hit - pos));
    if (hit == std::string_view::npos) break;
    pos = hit + 1;
  }
  return parts;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsAsciiDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string PyLower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cp;
    size_t length = DecodeUtf8(text, pos, &cp);
    if (length == 1 && cp >= 0x80) {
      out.push_back(text[pos]);  // not valid UTF-8: keep the byte as it is
    } else {
      AppendUtf8(static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))), &out);
    }
    pos += length;
  }
  return out;
}

std::string PyCapitalize(std::string_view text) {
  if (text.empty()) return std::string();
  uint32_t cp;
  const size_t length = DecodeUtf8(text, 0, &cp);
  std::string out;
  if (length == 1 && cp >= 0x80) out.push_back(text[0]);
  else AppendUtf8(static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))), &out);
  return out + PyLower(text.substr(length));
}

std::string FormatFixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

std::string UtcTimestamp(TimestampStyle style) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm tm{};
  gmtime_r(&now.tv_sec, &tm);
  char buffer[64];
  if (style == TimestampStyle::kIso8601) {
    std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
  }
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H-%M-%S", &tm);
  char micros[32];
  std::snprintf(micros, sizeof(micros), ".%06ld", now.tv_nsec / 1000);
  return std::string(buffer) + micros;
}

std::string ToValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data());
  for (size_t pos = 0; pos < bytes.size();) {
    utf8proc_int32_t cp;
    // utf8proc rejects what JSON writers reject too: overlong forms, surrogates.
    const utf8proc_ssize_t length =
        utf8proc_iterate(data + pos, static_cast<utf8proc_ssize_t>(std::min<size_t>(4, bytes.size() - pos)), &cp);
    if (length <= 0) {
      out += "\xEF\xBF\xBD";
      ++pos;
    } else {
      out.append(bytes.substr(pos, static_cast<size_t>(length)));
      pos += static_cast<size_t>(length);
    }
  }
  return out;
}

}  // namespace llada
