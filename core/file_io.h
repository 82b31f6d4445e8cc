// Reading input files, transparently inflating .gz and .bz2.
#pragma once

#include <filesystem>
#include <string>

namespace llada {

// Whole file as bytes. A ".gz" or ".bz2" suffix is decompressed (zlib, libbz2).
// Throws UserError naming the file when it is missing, unreadable or corrupt.
std::string ReadInputFile(const std::filesystem::path& path);

// Writes atomically: a temporary sibling renamed over `path`, so a crash never
// leaves a half-written results file. Throws UserError naming the path.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace llada
