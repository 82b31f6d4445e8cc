// Memory-mapped safetensors checkpoints, single-file or sharded
// (model.safetensors.index.json). Headers, names, shapes, dtypes and data
// bounds are validated on open: a truncated or inconsistent file is one
// UserError naming the tensor and the file. No LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llada {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // inside the mapping; valid while the Checkpoint lives
  size_t nbytes = 0;
  std::string file;  // for error messages

  int64_t NumElements() const;
  // Converts F32/F16/BF16 data to float32 (bf16 and f16 widen exactly).
  void ToFloat32(float* out) const;
};

class Checkpoint {
 public:
  // `dir` holds model.safetensors, or model.safetensors.index.json and its shards.
  static std::unique_ptr<Checkpoint> Open(const std::filesystem::path& dir);
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  bool Has(const std::string& name) const { return tensors_.count(name) > 0; }
  // Throws UserError naming the tensor and the checkpoint when it is absent.
  const TensorView& Get(const std::string& name) const;
  // Get() plus a shape check; the error names tensor, file, expected and found shapes.
  const TensorView& Get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> Names() const;
  const std::filesystem::path& dir() const { return dir_; }

  // Widens the named tensors to float32 on the host now, into buffers a
  // backend computing in float32 on the CPU adopts instead of converting
  // (models/hf_checkpoint.h: the command line widens while LibTorch loads).
  void Widen(const std::vector<std::string>& names);
  // The buffer Widen made for `name`, shared with whoever adopts it; null
  // for a tensor not widened.
  std::shared_ptr<const float> Widened(const std::string& name) const;

 private:
  struct Mapping;
  Checkpoint() = default;
  void MapFile(const std::filesystem::path& file, const std::vector<std::string>* expected_names);

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Mapping>> mappings_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::shared_ptr<const float>> widened_;
};

}  // namespace llada
