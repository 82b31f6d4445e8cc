// Reading input files, transparently inflating .gz and .bz2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace llada {

// Whole file as bytes. A ".gz" or ".bz2" suffix is decompressed (zlib, libbz2).
// "ARCHIVE.zip#MEMBER" (also .tar, .tar.gz, .tgz) reads one member in memory
// (libarchive), decrypting it with `password` if it is encrypted.
// Throws UserError naming the file when it is missing, unreadable or corrupt.
std::string ReadInputFile(const std::filesystem::path& path, const std::string& password = "");

// "x.zip#dir/m.csv" -> {"x.zip", "dir/m.csv"}; a plain path -> {path, ""}.
struct ArchiveMember {
  std::filesystem::path archive;
  std::string member;
};
ArchiveMember SplitArchiveMember(const std::filesystem::path& path);

// The file's size in bytes; 0 when it is missing or unreadable.
int64_t FileSizeOrZero(const std::filesystem::path& path);

// Writes atomically: a temporary sibling renamed over `path`, so a crash never
// leaves a half-written results file. Throws UserError naming the path.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace llada
