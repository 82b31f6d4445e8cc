// SHA-256 digests (OpenSSL) as lowercase hex: cache keys, config and data hashes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace llada {

std::string Sha256Hex(std::string_view data);

// Hash of a file's bytes as stored on disk (compressed files are not inflated).
// Throws UserError naming the file when it cannot be read.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace llada
