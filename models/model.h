// Model: the backend interface (lm-eval's LM). A batch of requests in, one
// response per request out, same order. Backends are created by name through
// ModelRegistry; RegisterBuiltinModels() is the folder's one registration point.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/request.h"
#include "core/text.h"

namespace llada {

struct ModelCapabilities {
  bool loglikelihood = true;
  bool generate_until = true;
  // Answers depend on the request's origin (task, doc, index), not only on its
  // text (the replay backend): the request cache must key on the origin too.
  bool keyed_by_origin = false;
  // Under the settings in force, the log-likelihoods of a document's choices
  // depend on one another (adaptive Monte-Carlo sampling stops once the first
  // place is settled, Request::ranking): the harness sends a document's
  // likelihood requests in one call and keys each on its document.
  bool likelihoods_by_document = false;
};

class Model {
 public:
  virtual ~Model() = default;

  // Stable identity of everything that changes outputs (weights, dtype,
  // decoding settings). Part of every request-cache key.
  virtual std::string Identity() const = 0;
  // The identity as far as requests of `type` are concerned (settings that
  // only change the other type's outputs left out): the model part of the
  // request-cache key.
  virtual std::string CacheIdentity(RequestType type) const {
    (void)type;
    return Identity();
  }
  virtual nlohmann::json Describe() const = 0;
  virtual ModelCapabilities Capabilities() const = 0;

  // Replaces the backend settings (ModelOptions::model_args) for the requests
  // that follow -- the harness calls it per task, as presets may differ per
  // task. Identity() reflects the settings in force. Unknown keys are a
  // UserError; keys meant for another backend are ignored.
  virtual void Configure(const nlohmann::json& model_args) { (void)model_args; }

  // Throw SampleError for a request that cannot be answered (recorded against
  // its sample), UserError for bad input that stops the run.
  virtual std::vector<Response> Loglikelihood(const std::vector<Request>& requests) = 0;
  virtual std::vector<Response> GenerateUntil(const std::vector<Request>& requests) = 0;
};

// What the CLI resolves for a backend.
struct ModelOptions {
  std::string spec;           // --model: "replay:FILE.jsonl", or a checkpoint directory
  std::string device = "cpu";
  std::string dtype = "auto";
  uint64_t seed = 1234;
  int batch_size = 1;
  int threads = 0;  // CPU threads for the model's math (LibTorch and OpenBLAS); 0 = the machine's cores
  nlohmann::json model_args = nlohmann::json::object();  // from the preset
  // false: the model only names itself (identity, settings) and computes
  // nothing; `merge` answers every request from the shards' stores. Backends
  // without weights to load ignore it.
  bool load_weights = true;
};

// Throws UserError naming --device / --dtype when the value is not one of
// cpu, cuda, cuda:N / auto, float32, bfloat16, float16. The LibTorch backends
// map the names (models/torch/transformer.h: ParseDevice, ParseDtype).
// Inline: both the backends and the command line use it.
inline void CheckDeviceAndDtype(const std::string& device, const std::string& dtype) {
  const bool device_ok = device == "cpu" || device == "cuda" ||
                         (device.rfind("cuda:", 0) == 0 && IsAsciiDigits(std::string_view(device).substr(5)));
  if (!device_ok) throw UserError("--device: '" + device + "' (expected cpu, cuda or cuda:N)");
  if (dtype != "auto" && dtype != "float32" && dtype != "bfloat16" && dtype != "float16")
    throw UserError("--dtype: '" + dtype + "' (expected auto, float32, bfloat16 or float16)");
}

using ModelFactory = std::function<std::unique_ptr<Model>(const ModelOptions& options)>;

class ModelRegistry {
 public:
  // A backend chosen by a "<scheme>:" prefix of --model (e.g. "replay").
  void RegisterScheme(const std::string& scheme, ModelFactory factory);
  // A backend chosen by a checkpoint's config.json "architectures" entry.
  void RegisterArchitecture(const std::string& architecture, ModelFactory factory);

  // Throws UserError for an unknown scheme, a missing checkpoint or an
  // architecture no backend handles.
  std::unique_ptr<Model> Create(const ModelOptions& options) const;
  std::vector<std::string> Schemes() const;
  std::vector<std::string> Architectures() const;

 private:
  std::map<std::string, ModelFactory> schemes_;
  std::map<std::string, ModelFactory> architectures_;
};

void RegisterBuiltinModels(ModelRegistry& registry);

}  // namespace llada
