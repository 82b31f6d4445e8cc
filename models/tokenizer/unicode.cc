#include "models/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <map>

#include "core/errors.h"

namespace llada::tokenizer {

size_t NextCodePoint(std::string_view text, size_t pos, uint32_t* code_point) {
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t length = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos),
                                                   static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
  if (length <= 0) {
    *code_point = 0xFFFD;
    return 1;
  }
  *code_point = static_cast<uint32_t>(cp);
  return static_cast<size_t>(length);
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t length = utf8proc_encode_char(static_cast<utf8proc_int32_t>(code_point), buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

namespace {

// Length of the valid UTF-8 sequence at pos, or the length of its maximal
// invalid prefix as a negative number (WHATWG / Rust "maximal subpart").
int Utf8SequenceAt(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = byte(pos);
  if (c < 0x80) return 1;
  int need;
  unsigned char lower = 0x80, upper = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lower = 0xA0;
    if (c == 0xED) upper = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lower = 0x90;
    if (c == 0xF4) upper = 0x8F;
  } else {
    return -1;
  }
  for (int i = 1; i <= need; ++i) {
    if (pos + i >= s.size()) return -i;
    const unsigned char cc = byte(pos + i);
    if (cc < lower || cc > upper) return -i;
    lower = 0x80;
    upper = 0xBF;
  }
  return need + 1;
}

}  // namespace

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const int length = Utf8SequenceAt(bytes, pos);
    if (length > 0) {
      out.append(bytes.substr(pos, static_cast<size_t>(length)));
      pos += static_cast<size_t>(length);
    } else {
      out.append("\xEF\xBF\xBD");
      pos += static_cast<size_t>(-length);
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view bytes) {
  for (size_t pos = 0; pos < bytes.size();) {
    const int length = Utf8SequenceAt(bytes, pos);
    if (length <= 0) return false;
    pos += static_cast<size_t>(length);
  }
  return true;
}

namespace {

struct ByteTables {
  std::vector<std::string> to_unicode = std::vector<std::string>(256);
  std::map<uint32_t, int> to_byte;
  ByteTables() {
    std::vector<int> printable;
    for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
    std::vector<uint32_t> code(256, 0);
    std::vector<bool> seen(256, false);
    for (int b : printable) {
      code[b] = static_cast<uint32_t>(b);
      seen[b] = true;
    }
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b)
      if (!seen[b]) code[b] = next++;
    for (int b = 0; b < 256; ++b) {
      AppendUtf8(code[b], &to_unicode[b]);
      to_byte[code[b]] = b;
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

const std::vector<std::string>& ByteToUnicode() { return Tables().to_unicode; }

int UnicodeToByte(uint32_t code_point) {
  const auto& map = Tables().to_byte;
  auto it = map.find(code_point);
  return it == map.end() ? -1 : it->second;
}

std::string Normalize(std::string_view text, const std::string& form) {
  int options = UTF8PROC_STABLE;
  if (form == "NFC") options |= UTF8PROC_COMPOSE;
  else if (form == "NFD") options |= UTF8PROC_DECOMPOSE;
  else if (form == "NFKC") options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else if (form == "NFKD") options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  else throw InternalError("unknown normalization form " + form);
  // utf8proc rejects invalid UTF-8; input text is valid (it came from JSON or
  // was checked by the caller), so fall back to the text unchanged.
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                               static_cast<utf8proc_ssize_t>(text.size()), &result,
                                               static_cast<utf8proc_option_t>(options));
  if (length < 0) return std::string(text);
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
  std::free(result);
  return out;
}

bool IsWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
         cp == 0x3000;
}

bool IsWordCharacter(uint32_t cp) {
  if (cp == '_') return true;
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

}  // namespace llada::tokenizer
