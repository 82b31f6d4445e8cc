#include <filesystem>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "models/model.h"
#include "models/replay_model.h"
#include "models/torch_backend.h"

namespace llada {

void ModelRegistry::RegisterScheme(const std::string& scheme, ModelFactory factory) {
  if (!schemes_.emplace(scheme, std::move(factory)).second) throw InternalError("model scheme registered twice: " + scheme);
}

void ModelRegistry::RegisterArchitecture(const std::string& architecture, ModelFactory factory) {
  if (!architectures_.emplace(architecture, std::move(factory)).second)
    throw InternalError("architecture registered twice: " + architecture);
}

std::vector<std::string> ModelRegistry::Schemes() const {
  std::vector<std::string> names;
  for (const auto& entry : schemes_) names.push_back(entry.first);
  return names;
}

std::vector<std::string> ModelRegistry::Architectures() const {
  std::vector<std::string> names;
  for (const auto& entry : architectures_) names.push_back(entry.first);
  return names;
}

std::unique_ptr<Model> ModelRegistry::Create(const ModelOptions& options) const {
  if (options.spec.empty()) throw UserError("--model: required (a checkpoint directory or replay:FILE.jsonl)");
  const size_t colon = options.spec.find(':');
  if (colon != std::string::npos && colon > 1) {  // "C:" would be a drive letter, not a scheme
    const std::string scheme = options.spec.substr(0, colon);
    auto it = schemes_.find(scheme);
    if (it == schemes_.end())
      throw UserError("--model: unknown backend '" + scheme + ":' (known: " + Join(Schemes(), ", ") +
                      "; or give a checkpoint directory)");
    return it->second(options);
  }
  const std::filesystem::path dir(options.spec);
  const std::filesystem::path config_path = dir / "config.json";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw UserError::InFile(options.spec, "--model", "checkpoint directory not found");
  nlohmann::json config = nlohmann::json::parse(ReadInputFile(config_path), nullptr, false);
  if (config.is_discarded() || !config.is_object())
    throw UserError::InFile(config_path.string(), "", "not valid JSON");
  if (!config.contains("architectures") || !config.at("architectures").is_array() ||
      config.at("architectures").empty())
    throw UserError::InFile(config_path.string(), "architectures", "missing");
  const std::string architecture = config.at("architectures").at(0).get<std::string>();
  auto it = architectures_.find(architecture);
  if (it == architectures_.end()) {
    throw UserError::InFile(config_path.string(), "architectures",
                            "no backend for '" + architecture + "' (supported: " + Join(Architectures(), ", ") + ")");
  }
  return it->second(options);
}

void RegisterBuiltinModels(ModelRegistry& registry) {
  registry.RegisterScheme("replay", [](const ModelOptions& options) {
    return std::make_unique<ReplayModel>(options.spec.substr(options.spec.find(':') + 1));
  });
  // The LibTorch backends (models/torch_backend.h): the checkpoint is read
  // here, while the backend may still be loading on another thread.
  auto torch_model = [](const ModelOptions& options) {
    HfCheckpoint checkpoint = ReadHfCheckpoint(options);
    return GetTorchBackend().Create(options, std::move(checkpoint));
  };
  for (const char* architecture : {"LLaDAModelLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"})
    registry.RegisterArchitecture(architecture, torch_model);
}


}  // namespace llada
