#include "core/file_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <bzlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace llada {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string ReadRaw(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw UserError::InFile(path.string(), "", "file not found");
  if (std::filesystem::is_directory(path, ec))
    throw UserError::InFile(path.string(), "", "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError::InFile(path.string(), "", std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw UserError::InFile(path.string(), "", "read error");
  return out.str();
}

std::string Gunzip(const std::string& compressed, const std::string& name) {
  z_stream stream{};
  // 16 + MAX_WBITS: accept the gzip wrapper; concatenated members are handled below.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
    throw InternalError("zlib inflateInit2 failed");
  std::string out;
  char buffer[1 << 16];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) break;
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // another gzip member follows
    }
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END)
    throw UserError::InFile(name, "", "corrupt or truncated gzip data");
  return out;
}

std::string Bunzip2(const std::string& compressed, const std::string& name) {
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) throw InternalError("BZ2_bzDecompressInit failed");
  std::string out;
  char buffer[1 << 16];
  stream.next_in = const_cast<char*>(compressed.data());
  stream.avail_in = static_cast<unsigned int>(compressed.size());
  int status = BZ_OK;
  while (true) {
    stream.next_out = buffer;
    stream.avail_out = sizeof(buffer);
    status = BZ2_bzDecompress(&stream);
    if (status != BZ_OK && status != BZ_STREAM_END) break;
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (status == BZ_STREAM_END) break;
    if (stream.avail_in == 0 && stream.avail_out != 0) break;  // truncated input
  }
  BZ2_bzDecompressEnd(&stream);
  if (status != BZ_STREAM_END) throw UserError::InFile(name, "", "corrupt or truncated bzip2 data");
  return out;
}

}  // namespace

ArchiveMember SplitArchiveMember(const std::filesystem::path& path) {
  const std::string text = path.string();
  for (const char* suffix : {".zip#", ".tar#", ".tar.gz#", ".tgz#"}) {
    const size_t at = text.find(suffix);
    if (at != std::string::npos) {
      const size_t hash = at + std::strlen(suffix) - 1;
      return {text.substr(0, hash), text.substr(hash + 1)};
    }
  }
  return {path, ""};
}

namespace {

// One member of an archive, decrypted with `password` when it is encrypted
// (ZipCrypto or AES). Nothing is written to disk.
std::string ReadArchiveMember(const std::filesystem::path& archive_path, const std::string& member,
                              const std::string& password) {
  const std::string where = archive_path.string() + "#" + member;
  const std::string raw = ReadRaw(archive_path);
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
  archive_read_support_format_all(reader.get());
  archive_read_support_filter_all(reader.get());
  if (!password.empty()) archive_read_add_passphrase(reader.get(), password.c_str());
  if (archive_read_open_memory(reader.get(), raw.data(), raw.size()) != ARCHIVE_OK)
    throw UserError::InFile(archive_path.string(), "", std::string("not a readable archive: ") +
                                                           archive_error_string(reader.get()));
  archive_entry* entry = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    if (member != archive_entry_pathname(entry)) continue;
    std::string contents;
    char buffer[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(reader.get(), buffer, sizeof(buffer))) > 0) contents.append(buffer, static_cast<size_t>(n));
    if (n < 0) {
      const std::string reason = archive_error_string(reader.get()) ? archive_error_string(reader.get()) : "read error";
      throw UserError::InFile(where, "", (archive_entry_is_encrypted(entry) && password.empty()
                                              ? "the member is encrypted and no password is configured"
                                              : "cannot extract: " + reason));
    }
    return contents;
  }
  // The listing ended in an error, not at its end: a truncated or damaged
  // file, which says nothing about whether the member is there.
  if (status != ARCHIVE_EOF) {
    const char* reason = archive_error_string(reader.get());
    throw UserError::InFile(archive_path.string(), member,
                            std::string("the archive is damaged or truncated (") + (reason ? reason : "read error") +
                                "); fetch it again");
  }
  throw UserError::InFile(archive_path.string(), member, "no such member in the archive");
}

}  // namespace

std::string ReadInputFile(const std::filesystem::path& path, const std::string& password) {
  const ArchiveMember split = SplitArchiveMember(path);
  if (!split.member.empty()) return ReadArchiveMember(split.archive, split.member, password);
  std::string raw = ReadRaw(path);
  const std::string name = path.string();
  if (EndsWith(name, ".gz")) return Gunzip(raw, name);
  if (EndsWith(name, ".bz2")) return Bunzip2(raw, name);
  return raw;
}

void WriteFileAtomically(const std::filesystem::path& path, const std::string& contents) {
  const std::filesystem::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError::InFile(path.string(), "", std::string("cannot write: ") + std::strerror(errno));
    out << contents;
    out.flush();
    if (!out) throw UserError::InFile(path.string(), "", "write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    throw UserError::InFile(path.string(), "", "cannot move the written file into place");
  }
}

int64_t FileSizeOrZero(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

}  // namespace llada
