#include "models/checkpoint/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/errors.h"
#include "core/file_io.h"

namespace llada {
namespace {

DType ParseDType(const std::string& name, const std::string& file, const std::string& tensor) {
  static const std::map<std::string, DType> kTypes = {
      {"F64", DType::kF64}, {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"I64", DType::kI64}, {"I32", DType::kI32}, {"I16", DType::kI16}, {"I8", DType::kI8},
      {"U8", DType::kU8},   {"BOOL", DType::kBool}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) throw UserError::InFile(file, tensor, "unsupported dtype '" + name + "'");
  return it->second;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu, bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

}  // namespace

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF64: return "F64";
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kBF16: case DType::kI16: return 2;
    default: return 1;
  }
}

int64_t TensorView::NumElements() const {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

void TensorView::ToFloat32(float* out) const {
  const int64_t count = NumElements();
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, data, static_cast<size_t>(count) * 4);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, data + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(half) << 16;
        std::memcpy(out + i, &bits, 4);
      }
      return;
    case DType::kF16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, data + 2 * i, 2);
        out[i] = HalfToFloat(half);
      }
      return;
    default:
      throw UserError::InFile(file, name, std::string("cannot convert dtype ") + DTypeName(dtype) + " to float32");
  }
}

struct Checkpoint::Mapping {
  void* base = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, size);
  }
};

Checkpoint::~Checkpoint() = default;

void Checkpoint::Widen(const std::vector<std::string>& names) {
  constexpr size_t kAlignment = 64;  // what LibTorch's own CPU allocator gives
  for (const auto& name : names) {
    const TensorView& view = Get(name);
    const size_t bytes = static_cast<size_t>(view.NumElements()) * sizeof(float);
    auto* buffer =
        static_cast<float*>(std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment));
    if (!buffer) throw UserError::InFile(view.file, name, "out of memory widening to float32");
    std::shared_ptr<float> owned(buffer, std::free);
    view.ToFloat32(owned.get());
    widened_[name] = std::move(owned);
  }
}

std::shared_ptr<const float> Checkpoint::Widened(const std::string& name) const {
  const auto it = widened_.find(name);
  return it == widened_.end() ? nullptr : it->second;
}

void Checkpoint::MapFile(const std::filesystem::path& path, const std::vector<std::string>* expected_names) {
  const std::string file = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw UserError::InFile(file, "", std::string("cannot open checkpoint shard: ") + std::strerror(errno));
  struct stat info {};
  fstat(fd, &info);
  auto mapping = std::make_unique<Mapping>();
  mapping->size = static_cast<size_t>(info.st_size);
  if (mapping->size < 8) {
    ::close(fd);
    throw UserError::InFile(file, "", "truncated: shorter than a safetensors header");
  }
  mapping->base = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->base == MAP_FAILED) throw UserError::InFile(file, "", "cannot memory-map the file");
  const auto* bytes = static_cast<const std::byte*>(mapping->base);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, 8);  // little-endian, as the format requires (x86-64 and arm64 hosts)
  if (header_size > mapping->size - 8)
    throw UserError::InFile(file, "", "truncated: header of " + std::to_string(header_size) + " bytes does not fit");
  const nlohmann::json header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes) + 8,
                                                      reinterpret_cast<const char*>(bytes) + 8 + header_size, nullptr,
                                                      false);
  if (header.is_discarded() || !header.is_object()) throw UserError::InFile(file, "", "safetensors header is not valid JSON");
  const std::byte* data = bytes + 8 + header_size;
  const size_t data_size = mapping->size - 8 - header_size;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    TensorView view;
    view.name = name;
    view.file = file;
    if (!entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw UserError::InFile(file, name, "header entry lacks dtype, shape or data_offsets");
    view.dtype = ParseDType(entry.at("dtype").get<std::string>(), file, name);
    view.shape = entry.at("shape").get<std::vector<int64_t>>();
    const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
    if (offsets.size() != 2 || offsets[1] < offsets[0])
      throw UserError::InFile(file, name, "bad data_offsets");
    for (int64_t d : view.shape)
      if (d < 0) throw UserError::InFile(file, name, "negative dimension in shape " + ShapeText(view.shape));
    view.nbytes = offsets[1] - offsets[0];
    if (view.nbytes != static_cast<size_t>(view.NumElements()) * DTypeSize(view.dtype))
      throw UserError::InFile(file, name, "data_offsets span " + std::to_string(view.nbytes) + " bytes but shape " +
                                              ShapeText(view.shape) + " of " + DTypeName(view.dtype) + " needs " +
                                              std::to_string(view.NumElements() * DTypeSize(view.dtype)));
    if (offsets[1] > data_size)
      throw UserError::InFile(file, name, "truncated: data ends at byte " + std::to_string(offsets[1]) +
                                              " but the file holds " + std::to_string(data_size) + " data bytes");
    view.data = data + offsets[0];
    if (expected_names &&
        std::find(expected_names->begin(), expected_names->end(), name) == expected_names->end())
      throw UserError::InFile(file, name, "tensor not listed for this shard in model.safetensors.index.json");
    if (!tensors_.emplace(name, std::move(view)).second)
      throw UserError::InFile(file, name, "tensor appears in more than one shard");
  }
  if (expected_names) {
    for (const auto& name : *expected_names)
      if (!tensors_.count(name))
        throw UserError::InFile(file, name, "listed in model.safetensors.index.json but missing from the shard");
  }
  mappings_.push_back(std::move(mapping));
}

std::unique_ptr<Checkpoint> Checkpoint::Open(const std::filesystem::path& dir) {
  std::unique_ptr<Checkpoint> checkpoint(new Checkpoint());
  checkpoint->dir_ = dir;
  std::error_code ec;
  const auto index_path = dir / "model.safetensors.index.json";
  const auto single_path = dir / "model.safetensors";
  if (std::filesystem::exists(index_path, ec)) {
    const nlohmann::json index = nlohmann::json::parse(ReadInputFile(index_path), nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index.at("weight_map").is_object())
      throw UserError::InFile(index_path.string(), "weight_map", "missing or not an object");
    std::map<std::string, std::vector<std::string>> by_shard;
    for (const auto& [tensor, shard] : index.at("weight_map").items()) by_shard[shard.get<std::string>()].push_back(tensor);
    for (const auto& [shard, names] : by_shard) {
      if (!std::filesystem::exists(dir / shard, ec))
        throw UserError::InFile((dir / shard).string(), names.front(), "shard listed in the index is missing");
      checkpoint->MapFile(dir / shard, &names);
    }
  } else if (std::filesystem::exists(single_path, ec)) {
    checkpoint->MapFile(single_path, nullptr);
  } else {
    throw UserError::InFile(dir.string(), "--model", "no model.safetensors or model.safetensors.index.json");
  }
  return checkpoint;
}

const TensorView& Checkpoint::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw UserError::InFile(dir_.string(), name, "tensor missing from the checkpoint");
  return it->second;
}

const TensorView& Checkpoint::Get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const TensorView& view = Get(name);
  if (view.shape != expected_shape)
    throw UserError::InFile(view.file, name, "shape " + ShapeText(view.shape) + " does not match config.json's " +
                                                 ShapeText(expected_shape));
  return view;
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> names;
  for (const auto& entry : tensors_) names.push_back(entry.first);
  return names;
}

}  // namespace llada
