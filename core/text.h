// Small string helpers with Python semantics where prompts depend on them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llada {

// Python's str.strip() with no argument: removes Unicode whitespace (as
// str.isspace defines it) from both ends of a UTF-8 string.
std::string PyStrip(std::string_view text);
std::string PyRStrip(std::string_view text);

// Python's str.replace(old, new) (all occurrences; old must be non-empty).
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to);

std::vector<std::string> Split(std::string_view text, char separator);
std::string Join(const std::vector<std::string>& parts, std::string_view separator);
bool StartsWith(std::string_view text, std::string_view prefix);
bool EndsWith(std::string_view text, std::string_view suffix);

// Python's str.isdigit() for ASCII text (non-empty, all '0'..'9').
bool IsAsciiDigits(std::string_view text);

// Python's str.lower() through utf8proc's simple case mapping (Python applies
// the full mapping, which differs only for a handful of code points such as
// U+0130, none of which occur in answers the scorers compare).
std::string PyLower(std::string_view text);
// Python's str.capitalize(): the first character in title case, the rest lowered.
std::string PyCapitalize(std::string_view text);

// printf's "%.<digits>f": fixed-point text for tables and reports.
std::string FormatFixed(double value, int digits);

// The current UTC time: "2026-11-28T06:46:00Z" (ISO 8601, whole seconds), or
// for file names "2026-11-28T06-46-00.123456" (no colons, microseconds, so
// two results files of one second do not collide and sort in time order).
enum class TimestampStyle { kIso8601, kFileName };
std::string UtcTimestamp(TimestampStyle style = TimestampStyle::kIso8601);

// Python's bytes.decode('utf-8', errors='replace'): every byte that is not part
// of valid UTF-8 becomes U+FFFD, so untrusted output can go into JSON.
std::string ToValidUtf8(std::string_view bytes);

}  // namespace llada
