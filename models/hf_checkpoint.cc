#include "models/hf_checkpoint.h"

#include <algorithm>
#include <fstream>
#include <future>
#include <vector>

#include "core/file_io.h"
#include "core/hashing.h"
#include "models/torch_backend.h"

namespace llada {

std::string WeightsFingerprint(const std::filesystem::path& dir) {
  std::string material = ReadInputFile(dir / "config.json");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  constexpr std::streamoff kSample = 4 << 20;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    material += file.filename().string() + ":" + std::to_string(size) + ":";
    std::string head(static_cast<size_t>(std::min(size, kSample)), '\0');
    in.seekg(0);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    material += Sha256Hex(head);
    if (size > kSample) {
      std::string tail(static_cast<size_t>(kSample), '\0');
      in.seekg(size - kSample);
      in.read(tail.data(), kSample);
      material += Sha256Hex(tail);
    }
  }
  return Sha256Hex(material);
}

HfCheckpoint ReadHfCheckpoint(const ModelOptions& options) {
  HfCheckpoint files;
  files.dir = options.spec;
  files.config = ReadTransformerConfig(files.dir);
  files.weights = Checkpoint::Open(files.dir);
  if (!std::filesystem::exists(files.dir / "tokenizer.json")) Tokenizer::Load(files.dir, "--model");  // its error
  // tokenizer.json's parse and the hashes (~0.1 s for a 32k vocabulary) on a
  // second thread while the weights widen on this one -- unless LibTorch is
  // still loading: a new thread would wait for the loader (TorchBackendLoading),
  // and all of this takes less time than the load, beside it.
  auto side = std::async(TorchBackendLoading() ? std::launch::deferred : std::launch::async, [&files] {
    files.tokenizer = Tokenizer::Load(files.dir, "--model");
    files.weights_fingerprint = WeightsFingerprint(files.dir);
    files.tokenizer_sha = Sha256File(files.dir / "tokenizer.json");
  });
  // The CPU's float32 weights are the host buffers themselves (LibTorch
  // adopts them); any other device or dtype converts from the mapping later.
  const bool cpu_float32 = options.device == "cpu" && (options.dtype == "auto" || options.dtype == "float32");
  if (options.load_weights && cpu_float32) {
    try {
      // Names, shapes and dtypes checked before gigabytes are widened, not
      // after (the Transformer checks again, for its other callers).
      ValidateCheckpoint(files.config, *files.weights);
      std::vector<std::string> names;
      for (const auto& [name, shape] : ExpectedTensors(files.config)) names.push_back(name);
      files.weights->Widen(names);
    } catch (...) {
      side.wait();  // it writes into `files`
      throw;
    }
  }
  side.get();
  return files;
}

}  // namespace llada
