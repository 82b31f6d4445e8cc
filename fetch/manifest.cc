#include "fetch/manifest.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/file_io.h"
#include "tasks/registry.h"

namespace llada {
namespace {

bool IsSha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

class FieldReader {
 public:
  FieldReader(const std::string& origin, const nlohmann::json& object, std::string where)
      : origin_(origin), object_(object), where_(std::move(where)) {
    if (!object_.is_object()) Fail("", "must be an object");
  }

  std::string String(const std::string& key, bool required = true) const {
    if (!object_.contains(key) || object_.at(key).is_null()) {
      if (required) Fail(key, "missing");
      return "";
    }
    if (!object_.at(key).is_string()) Fail(key, "must be a string");
    return object_.at(key).get<std::string>();
  }
  bool Bool(const std::string& key) const {
    if (!object_.contains(key)) return false;
    if (!object_.at(key).is_boolean()) Fail(key, "must be true or false");
    return object_.at(key).get<bool>();
  }
  [[noreturn]] void Fail(const std::string& key, const std::string& message) const {
    throw UserError::InFile(origin_, key.empty() ? where_ : where_ + "." + key, message);
  }
  const nlohmann::json& object() const { return object_; }

 private:
  const std::string& origin_;
  const nlohmann::json& object_;
  std::string where_;
};

ManifestFile ReadFile(const std::string& origin, const nlohmann::json& entry, const std::string& where) {
  FieldReader field(origin, entry, where);
  ManifestFile file;
  file.url = field.String("url");
  if (file.url.rfind("https://", 0) != 0 && file.url.rfind("http://", 0) != 0)
    field.Fail("url", "must be an http(s) URL");
  file.revision = field.String("revision");
  file.sha256 = field.String("sha256");
  if (!IsSha256(file.sha256)) field.Fail("sha256", "must be 64 lower-case hex digits");
  file.license = field.String("license");
  file.dest = field.String("dest");
  if (!StaysInsideDataDir(file.dest)) field.Fail("dest", "must be a relative path without '..'");
  if (!entry.contains("size")) field.Fail("size", "missing (null when unknown)");
  if (!entry.at("size").is_null()) {
    if (!entry.at("size").is_number_integer() || entry.at("size").get<int64_t>() < 0)
      field.Fail("size", "must be a byte count or null");
    file.size = entry.at("size").get<int64_t>();
  }
  if (!entry.contains("tasks") || !entry.at("tasks").is_array() || entry.at("tasks").empty())
    field.Fail("tasks", "must list the tasks that read the file");
  for (const auto& task : entry.at("tasks")) {
    if (!task.is_string()) field.Fail("tasks", "must be strings");
    file.tasks.push_back(task.get<std::string>());
  }
  if (entry.contains("unpack")) {
    if (!entry.at("unpack").is_array()) field.Fail("unpack", "must be a list of {member, dest}");
    for (size_t i = 0; i < entry.at("unpack").size(); ++i) {
      FieldReader rule_field(origin, entry.at("unpack")[i], where + ".unpack[" + std::to_string(i) + "]");
      UnpackRule rule;
      rule.member = rule_field.String("member");
      rule.dest = rule_field.String("dest");
      rule.sha256 = rule_field.String("sha256", false);
      if (!StaysInsideDataDir(rule.dest)) rule_field.Fail("dest", "must be a relative path without '..'");
      if (rule.IsFolder() != (rule.dest.back() == '/'))
        rule_field.Fail("dest",
                        "a folder member (ending in '/') maps to a folder dest (ending in '/'), a file to a file");
      if (!rule.sha256.empty() && (!IsSha256(rule.sha256) || rule.IsFolder()))
        rule_field.Fail("sha256", "64 lower-case hex digits, and only on a file member");
      file.unpack.push_back(rule);
    }
  }
  file.verified = field.Bool("verified");
  file.gated = field.Bool("gated");
  file.upstream = field.String("upstream", false);
  file.note = field.String("note", false);
  return file;
}

}  // namespace

bool StaysInsideDataDir(const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return false;
  for (const auto& part : std::filesystem::path(relative))
    if (part == "..") return false;
  return true;
}

bool ManifestFile::Provides(const std::string& relative) const {
  if (relative == dest) return true;
  for (const auto& rule : unpack) {
    if (rule.IsFolder() ? relative.rfind(rule.dest, 0) == 0 && relative.size() > rule.dest.size()
                        : relative == rule.dest)
      return true;
  }
  return false;
}

Manifest LoadManifest(const std::filesystem::path& path) {
  Manifest manifest;
  manifest.origin = path.string();
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(ReadInputFile(path));
  } catch (const nlohmann::json::exception& e) {
    throw UserError::InFile(manifest.origin, "", std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object() || !root.contains("files") || !root.at("files").is_array())
    throw UserError::InFile(manifest.origin, "files", "missing: the manifest is {\"files\": [...]}");
  const auto& files = root.at("files");
  for (size_t i = 0; i < files.size(); ++i) {
    manifest.files.push_back(ReadFile(manifest.origin, files[i], "files[" + std::to_string(i) + "]"));
    for (size_t j = 0; j < i; ++j)
      if (manifest.files[j].dest == manifest.files[i].dest)
        throw UserError::InFile(manifest.origin, "files[" + std::to_string(i) + "].dest",
                                "'" + manifest.files[i].dest + "' is also files[" + std::to_string(j) + "]'s");
  }
  return manifest;
}

std::filesystem::path DefaultManifestPath() { return DefaultConfigDir() / "data_manifest.json"; }

}  // namespace llada
