// UTF-8 and byte-level helpers the tokenizer pipeline shares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llada::tokenizer {

// Decodes the code point at text[pos]; returns its byte length (invalid bytes
// count as one code point of value 0xFFFD).
size_t NextCodePoint(std::string_view text, size_t pos, uint32_t* code_point);
void AppendUtf8(uint32_t code_point, std::string* out);

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string Utf8Lossy(std::string_view bytes);
bool IsValidUtf8(std::string_view bytes);

// GPT-2's bytes_to_unicode table: byte -> UTF-8 of its printable stand-in.
const std::vector<std::string>& ByteToUnicode();
// The inverse: code point -> byte, or -1.
int UnicodeToByte(uint32_t code_point);

// "NFC", "NFD", "NFKC", "NFKD" through utf8proc.
std::string Normalize(std::string_view text, const std::string& form);

// Unicode White_Space (as Rust's char::is_whitespace).
bool IsWhitespace(uint32_t code_point);
// Alphanumeric or '_' (the boundary test of single_word added tokens).
bool IsWordCharacter(uint32_t code_point);

}  // namespace llada::tokenizer
