// The data manifest (configs/data_manifest.json): where each benchmark file
// comes from, pinned by revision and sha256, and where it goes under the data
// directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace llada {

// A member of a downloaded archive written out under the data directory. A
// `member` ending in "/" maps every file below it into the `dest` folder.
struct UnpackRule {
  std::string member;
  std::string dest;    // relative to the data directory
  std::string sha256;  // "" when the manifest pins only the archive
  bool IsFolder() const { return !member.empty() && member.back() == '/'; }
};

struct ManifestFile {
  std::string url;
  std::string revision;
  std::optional<int64_t> size;  // unknown for a few upstream files (docs/data.md)
  std::string sha256;
  std::string license;
  std::string dest;  // relative to the data directory
  std::vector<std::string> tasks;
  std::vector<UnpackRule> unpack;  // empty: the file is read as it is (a password-protected archive too)
  bool verified = false;           // its checksum was recomputed from a copy of the same bytes
  bool gated = false;              // the host wants a token (HF_TOKEN) even for reading
  std::string upstream, note;

  // True when the loaders' path `relative` (under the data directory) is
  // this file or one it unpacks.
  bool Provides(const std::string& relative) const;
};

// True when `relative` stays inside the data directory: relative, no "..".
bool StaysInsideDataDir(const std::string& relative);

struct Manifest {
  std::string origin;  // the file it was read from, for error messages
  std::vector<ManifestFile> files;
};

// Reads and validates a manifest; throws UserError naming the file and the
// field ("files[3].sha256") that is wrong.
Manifest LoadManifest(const std::filesystem::path& path);
// configs/data_manifest.json.
std::filesystem::path DefaultManifestPath();

}  // namespace llada
