#include "fetch/fetcher.h"

#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <set>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/hashing.h"

namespace llada {
namespace fs = std::filesystem;
namespace {

// The rule that unpacks archive member `name`, and where it goes; nullptr
// when the member is not wanted.
const UnpackRule* MatchRule(const ManifestFile& file, const std::string& name, std::string* target) {
  for (const auto& rule : file.unpack) {
    if (rule.IsFolder() ? name.size() > rule.member.size() && name.rfind(rule.member, 0) == 0 : name == rule.member) {
      *target = rule.IsFolder() ? rule.dest + name.substr(rule.member.size()) : rule.dest;
      // A member named "data/dev/../../x" must not escape the data directory.
      if (!StaysInsideDataDir(name) || !StaysInsideDataDir(*target))
        throw UserError("archive member '" + name + "' would be written outside the data directory; not unpacked");
      return &rule;
    }
  }
  return nullptr;
}

// Calls `use` with the content of every regular file in the archive that
// `wanted` accepts (libarchive: zip, tar and their compressed forms).
void ForEachArchiveFile(const fs::path& path, const std::function<bool(const std::string&)>& wanted,
                        const std::function<void(const std::string&, const std::string&)>& use) {
  struct Closer {
    archive* handle;
    ~Closer() { archive_read_free(handle); }
  } reader{archive_read_new()};
  archive_read_support_filter_all(reader.handle);
  archive_read_support_format_all(reader.handle);
  if (archive_read_open_filename(reader.handle, path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw UserError::InFile(path.string(), "",
                            std::string("cannot open archive: ") + archive_error_string(reader.handle));
  archive_entry* entry = nullptr;
  int status;
  while ((status = archive_read_next_header(reader.handle, &entry)) == ARCHIVE_OK) {
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    const std::string name = archive_entry_pathname(entry);
    if (!wanted(name)) continue;
    std::string content;
    char buffer[1 << 16];
    la_ssize_t read;
    while ((read = archive_read_data(reader.handle, buffer, sizeof(buffer))) > 0)
      content.append(buffer, static_cast<size_t>(read));
    if (read < 0)
      throw UserError::InFile(path.string(), name,
                              std::string("cannot read member: ") + archive_error_string(reader.handle));
    use(name, content);
  }
  if (status != ARCHIVE_EOF)
    throw UserError::InFile(path.string(), "", std::string("corrupt archive: ") + archive_error_string(reader.handle));
}

// Calls `use` for every archive member an unpack rule of `file` wants, with
// the rule and the member's path under the data directory. Returns the
// member of the first rule that matched nothing ("" when every rule did).
std::string ForEachUnpackedMember(
    const ManifestFile& file, const fs::path& archive,
    const std::function<void(const std::string&, const UnpackRule*, const std::string&, const std::string&)>& use) {
  std::set<const UnpackRule*> matched;
  // `wanted` sees each member just before `use` reads it: the match carries over.
  const UnpackRule* current = nullptr;
  std::string target;
  ForEachArchiveFile(
      archive,
      [&](const std::string& name) {
        current = MatchRule(file, name, &target);
        return current != nullptr;
      },
      [&](const std::string& name, const std::string& content) {
        matched.insert(current);
        use(name, current, target, content);
      });
  for (const auto& rule : file.unpack)
    if (!matched.count(&rule)) return rule.member;
  return "";
}

size_t HostStart(const std::string& url) {
  const size_t scheme = url.find("://");
  return scheme == std::string::npos ? 0 : scheme + 3;
}

std::string HostOf(const std::string& url) {
  const size_t start = HostStart(url);
  const size_t end = url.find_first_of(":/", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

fs::path PartPath(const fs::path& dest) { return fs::path(dest.string() + ".part"); }

void Unpack(const ManifestFile& file, const fs::path& data_dir) {
  const std::string missing_rule = ForEachUnpackedMember(
      file, data_dir / file.dest,
      [&](const std::string& name, const UnpackRule* rule, const std::string& target, const std::string& content) {
        if (!rule->sha256.empty() && Sha256Hex(content) != rule->sha256)
          throw UserError(file.dest + "#" + name + ": sha256 " + Sha256Hex(content) + ", the manifest pins " +
                          rule->sha256 + "; not unpacked");
        const fs::path out = data_dir / target;
        fs::create_directories(out.parent_path());
        WriteFileAtomically(out, content);
      });
  if (!missing_rule.empty()) throw UserError(file.dest + ": the archive has no member '" + missing_rule + "'");
}

void DownloadVerified(Downloader& downloader, const ManifestFile& file, const FetchOptions& options,
                      const std::function<void(int64_t)>& on_bytes, int64_t* bytes_received) {
  const fs::path dest = options.data_dir / file.dest;
  const fs::path part = PartPath(dest);
  fs::create_directories(dest.parent_path());
  // Bytes past the pinned size cannot be a prefix of the file: start over.
  if (file.size && FileSizeOrZero(part) > *file.size) fs::remove(part);
  const std::string url = MirroredUrl(file.url, options.mirror);
  const bool send_token = !options.hf_token.empty() && (file.gated || HostOf(file.url) == "huggingface.co");
  const DownloadResult result = downloader.Fetch(url, part, send_token ? options.hf_token : "", on_bytes);
  *bytes_received += result.bytes_received;
  const int64_t size = FileSizeOrZero(part);
  const std::string sha256 = Sha256File(part);
  if (sha256 != file.sha256 || (file.size && size != *file.size)) {
    fs::remove(part);
    throw UserError("checksum mismatch: " + url + " gave " + std::to_string(size) + " bytes with sha256 " + sha256 +
                    "; the manifest pins " + (file.size ? std::to_string(*file.size) + " bytes with " : "") +
                    "sha256 " + file.sha256 + " (revision " + file.revision +
                    "). The download was removed; nothing was written where the loaders read");
  }
  fs::rename(part, dest);
}

}  // namespace

const char* StateName(FileCheck::State state) {
  switch (state) {
    case FileCheck::State::kOk:
      return "ok";
    case FileCheck::State::kMissing:
      return "missing";
    case FileCheck::State::kPartial:
      return "partial";
    case FileCheck::State::kMismatch:
      return "checksum mismatch";
  }
  return "?";
}

std::vector<const ManifestFile*> FilesForTasks(const Manifest& manifest, const TaskRegistry& registry,
                                               const std::vector<std::string>& tasks, const fs::path& data_dir) {
  std::vector<const ManifestFile*> files;
  std::set<const ManifestFile*> seen;
  std::vector<std::string> uncovered;
  for (const auto& name : tasks) {
    for (const auto& split : registry.CreateTask(name)->DataFiles(data_dir)) {
      const ManifestFile* provider = nullptr;
      for (const auto& candidate : split.candidates) {
        const std::string relative =
            SplitArchiveMember(candidate).archive.lexically_relative(data_dir).generic_string();
        for (const auto& file : manifest.files)
          if (file.Provides(relative)) {
            provider = &file;
            break;
          }
        if (provider) break;
      }
      if (!provider) {
        uncovered.push_back(name + " (split '" + split.split + "': " + split.path.string() + ")");
        continue;
      }
      if (seen.insert(provider).second) files.push_back(provider);
    }
  }
  if (!uncovered.empty()) {
    std::string list;
    for (size_t i = 0; i < uncovered.size() && i < 5; ++i) list += (i ? "; " : "") + uncovered[i];
    if (uncovered.size() > 5) list += "; and " + std::to_string(uncovered.size() - 5) + " more";
    throw UserError::InFile(manifest.origin, "files", "no file provides " + list);
  }
  return files;
}

FileCheck CheckFile(const ManifestFile& file, const fs::path& data_dir) {
  FileCheck check;
  const fs::path dest = data_dir / file.dest;
  if (!fs::is_regular_file(dest)) {
    const fs::path part = PartPath(dest);
    if (fs::exists(part)) {
      check.state = FileCheck::State::kPartial;
      check.detail = std::to_string(FileSizeOrZero(part)) + (file.size ? " of " + std::to_string(*file.size) : "") +
                     " bytes downloaded; `data fetch` resumes it";
    } else {
      check.detail = "not downloaded";
    }
    return check;
  }
  const std::string sha256 = Sha256File(dest);
  if (sha256 != file.sha256) {
    check.state = FileCheck::State::kMismatch;
    check.detail = "sha256 " + sha256 + ", the manifest pins " + file.sha256;
    return check;
  }
  check.archive_ok = true;
  check.state = FileCheck::State::kOk;
  if (file.unpack.empty()) return check;

  size_t total = 0, missing = 0, differing = 0;
  std::string first_missing, first_differing;
  const std::string missing_rule = ForEachUnpackedMember(
      file, dest,
      [&](const std::string&, const UnpackRule* rule, const std::string& target, const std::string& content) {
        ++total;
        const fs::path out = data_dir / target;
        if (!fs::is_regular_file(out)) {
          if (missing++ == 0) first_missing = target;
        } else if (Sha256File(out) != (rule->sha256.empty() ? Sha256Hex(content) : rule->sha256)) {
          if (differing++ == 0) first_differing = target;
        }
      });
  if (!missing_rule.empty()) {
    check.state = FileCheck::State::kMismatch;
    check.detail = "the archive has no member '" + missing_rule + "'";
    return check;
  }
  if (differing > 0) {
    check.state = FileCheck::State::kMismatch;
    check.detail = std::to_string(differing) + " of " + std::to_string(total) +
                   " unpacked files differ from the archive's (first: " + first_differing + ")";
  } else if (missing > 0) {
    check.state = FileCheck::State::kMissing;
    check.detail = std::to_string(missing) + " of " + std::to_string(total) +
                   " unpacked files missing (first: " + first_missing + ")";
  }
  return check;
}

std::string UrlPath(const std::string& url) {
  const size_t path = url.find('/', HostStart(url));
  return path == std::string::npos ? "/" : url.substr(path);
}

std::string MirroredUrl(const std::string& url, const std::string& mirror) {
  if (mirror.empty()) return url;
  std::string base = mirror;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + UrlPath(url);
}

FetchSummary FetchFiles(const std::vector<const ManifestFile*>& files, const FetchOptions& options,
                        const std::function<void(int64_t, int)>& on_start,
                        const std::function<void(int64_t)>& on_bytes) {
  FetchSummary summary;
  std::vector<std::pair<const ManifestFile*, FileCheck>> pending;
  int64_t total_bytes = 0;
  int to_download = 0;
  for (const ManifestFile* file : files) {
    try {
      FileCheck check = CheckFile(*file, options.data_dir);
      if (check.state == FileCheck::State::kOk) {
        ++summary.already_present;
        continue;
      }
      if (!check.archive_ok) {
        ++to_download;
        if (file->size)
          total_bytes += *file->size - std::min(*file->size, FileSizeOrZero(PartPath(options.data_dir / file->dest)));
      }
      pending.emplace_back(file, check);
    } catch (const UserError& e) {
      summary.failures.push_back(file->dest + ": " + e.what());
    }
  }
  on_start(total_bytes, to_download);
  if (pending.empty()) return summary;
  Downloader downloader(options.download);
  for (const auto& [file, check] : pending) {
    try {
      if (!check.archive_ok) {
        DownloadVerified(downloader, *file, options, on_bytes, &summary.bytes_received);
        ++summary.downloaded;
      } else {
        ++summary.unpacked_only;
      }
      if (!file->unpack.empty()) Unpack(*file, options.data_dir);
    } catch (const UserError& e) {
      summary.failures.push_back(file->dest + ": " + e.what());
    } catch (const fs::filesystem_error& e) {
      summary.failures.push_back(file->dest + ": " + e.what());
    }
  }
  return summary;
}

}  // namespace llada
