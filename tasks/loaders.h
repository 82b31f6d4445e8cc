// Readers for upstream benchmark file formats. Each turns one split file into
// documents shaped like the Hugging Face dataset lm-evaluation-harness reads,
// so the task templates in configs/ can be lm-eval's own.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llada {

using Document = nlohmann::json;

// bytes: the (already decompressed) file; file_name: for error messages.
using DocumentLoader = std::function<std::vector<Document>(const std::string& bytes,
                                                           const std::string& file_name)>;

class LoaderRegistry {
 public:
  void Register(const std::string& name, DocumentLoader loader);
  // Throws UserError listing the known loaders.
  const DocumentLoader& Get(const std::string& name) const;

 private:
  std::map<std::string, DocumentLoader> loaders_;
};

// The one place built-in loaders are registered.
void RegisterBuiltinLoaders(LoaderRegistry& registry);

// RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes). Each
// row's fields; throws UserError naming file and line on an unterminated quote.
std::vector<std::vector<std::string>> ParseCsv(const std::string& bytes, const std::string& file_name);

}  // namespace llada
