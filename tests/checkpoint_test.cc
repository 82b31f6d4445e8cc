// Checkpoint loading: the tiny checkpoints in ../shared/models (real tensor
// names, BF16, single and sharded), and every way a checkpoint can be broken.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "models/checkpoint/model_config.h"
#include "models/checkpoint/safetensors.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::ReadFile;
using testing::SharedDir;
using testing::TempDir;
using testing::WriteFile;

// A writable copy of a shared checkpoint directory.
std::filesystem::path CopyModel(const std::string& name, const TempDir& dir) {
  const auto target = dir.path() / name;
  std::filesystem::copy(SharedDir() / "models" / name, target, std::filesystem::copy_options::recursive);
  for (const auto& entry : std::filesystem::directory_iterator(target))
    std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  return target;
}

TEST(CheckpointTest, AllTinyCheckpointsLoadAndValidate) {
  LLADA_REQUIRE_SHARED();
  for (const char* name : {"tiny-llada", "tiny-llada-sharded", "tiny-llama", "tiny-mistral", "tiny-qwen2"}) {
    const auto dir = SharedDir() / "models" / name;
    const TransformerConfig config = ReadTransformerConfig(dir);
    const auto checkpoint = Checkpoint::Open(dir);
    EXPECT_NO_THROW(ValidateCheckpoint(config, *checkpoint)) << name;
  }
  const TransformerConfig llada = ReadTransformerConfig(SharedDir() / "models" / "tiny-llada");
  EXPECT_EQ(llada.family, ModelFamily::kLLaDA);
  EXPECT_FALSE(llada.causal);
  EXPECT_EQ(llada.head_dim, 16);
  EXPECT_EQ(llada.mask_token_id, 500);
  EXPECT_EQ(llada.layers[1].gate, "model.transformer.blocks.1.ff_proj.weight");
  const TransformerConfig qwen2 = ReadTransformerConfig(SharedDir() / "models" / "tiny-qwen2");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_TRUE(qwen2.tied_embeddings);
  EXPECT_EQ(qwen2.lm_head_name, "model.embed_tokens.weight");  // no lm_head.weight in the file
  EXPECT_EQ(qwen2.num_kv_heads, 2);
  EXPECT_DOUBLE_EQ(qwen2.rms_norm_eps, 1e-6);
}

TEST(CheckpointTest, ShardedAndSingleFileHoldTheSameBytes) {
  LLADA_REQUIRE_SHARED();
  const auto single = Checkpoint::Open(SharedDir() / "models" / "tiny-llada");
  const auto sharded = Checkpoint::Open(SharedDir() / "models" / "tiny-llada-sharded");
  ASSERT_EQ(single->Names(), sharded->Names());
  for (const auto& name : single->Names()) {
    const auto& a = single->Get(name);
    const auto& b = sharded->Get(name);
    ASSERT_EQ(a.nbytes, b.nbytes) << name;
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
  }
  EXPECT_NE(sharded->Get("model.transformer.ln_f.weight").file.find("model-0000"), std::string::npos);
}

TEST(CheckpointTest, WidensHalfPrecisionExactly) {
  const uint16_t bf16[] = {0x3F80, 0xC040, 0x0001};  // 1.0, -3.0, the smallest bf16 subnormal
  const uint16_t f16[] = {0x3C00, 0xC200, 0x0001, 0x7C00};  // 1.0, -3.0, 2^-24, +inf
  TensorView view;
  view.dtype = DType::kBF16;
  view.shape = {3};
  view.data = reinterpret_cast<const std::byte*>(bf16);
  float out[4];
  view.ToFloat32(out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -133));
  view.dtype = DType::kF16;
  view.shape = {4};
  view.data = reinterpret_cast<const std::byte*>(f16);
  view.ToFloat32(out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(out[3]));
}

// Widen (the command line's weights, widened while LibTorch loads) holds
// exactly ToFloat32's values, only for the tensors named.
TEST(CheckpointTest, WidenedTensorsHoldTheirConversion) {
  LLADA_REQUIRE_SHARED();
  const auto checkpoint = Checkpoint::Open(SharedDir() / "models" / "tiny-llada");
  const auto names = checkpoint->Names();
  ASSERT_GE(names.size(), 2u);
  checkpoint->Widen({names.front()});
  const auto widened = checkpoint->Widened(names.front());
  ASSERT_NE(widened, nullptr);
  const TensorView& view = checkpoint->Get(names.front());
  EXPECT_EQ(view.dtype, DType::kBF16);  // a real widening, not a copy
  std::vector<float> converted(static_cast<size_t>(view.NumElements()));
  view.ToFloat32(converted.data());
  EXPECT_EQ(std::memcmp(widened.get(), converted.data(), converted.size() * sizeof(float)), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(widened.get()) % 64, 0u);
  EXPECT_EQ(checkpoint->Widened(names.back()), nullptr);
  EXPECT_NE(testing::UserErrorOf([&] { checkpoint->Widen({"no.such.tensor"}); }).find("no.such.tensor"),
            std::string::npos);
}

TEST(CheckpointTest, TruncatedFileNamesTensorAndFile) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const auto model = CopyModel("tiny-llada", dir);
  const std::string bytes = ReadFile(model / "model.safetensors");
  WriteFile(model / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  const std::string error = testing::UserErrorOf([&] { Checkpoint::Open(model); });
  EXPECT_NE(error.find("model.safetensors"), std::string::npos) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_NE(error.find("model.transformer."), std::string::npos) << error;  // names the tensor cut off
  WriteFile(model / "model.safetensors", bytes.substr(0, 4));
  EXPECT_NE(testing::UserErrorOf([&] { Checkpoint::Open(model); }).find("truncated"), std::string::npos);
}

TEST(CheckpointTest, ConfigAndTensorsThatDisagreeAreNamed) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const auto model = CopyModel("tiny-llama", dir);
  auto config = nlohmann::json::parse(ReadFile(model / "config.json"));
  config["num_hidden_layers"] = 3;
  WriteFile(model / "config.json", config.dump());
  std::string error = testing::UserErrorOf([&] { ValidateCheckpoint(ReadTransformerConfig(model), *Checkpoint::Open(model)); });
  EXPECT_NE(error.find("model.layers.2.input_layernorm.weight"), std::string::npos) << error;
  config["num_hidden_layers"] = 2;
  config["intermediate_size"] = 100;
  WriteFile(model / "config.json", config.dump());
  error = testing::UserErrorOf([&] { ValidateCheckpoint(ReadTransformerConfig(model), *Checkpoint::Open(model)); });
  EXPECT_NE(error.find("mlp.gate_proj.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("does not match config.json"), std::string::npos) << error;
  config["architectures"] = {"GPT2LMHeadModel"};
  WriteFile(model / "config.json", config.dump());
  error = testing::UserErrorOf([&] { ReadTransformerConfig(model); });
  EXPECT_NE(error.find("GPT2LMHeadModel"), std::string::npos) << error;
}

TEST(CheckpointTest, ShardIndexMismatchesAreNamed) {
  LLADA_REQUIRE_SHARED();
  TempDir dir;
  const auto model = CopyModel("tiny-llada-sharded", dir);
  auto index = nlohmann::json::parse(ReadFile(model / "model.safetensors.index.json"));
  index["weight_map"]["model.transformer.ln_f.weight"] = "model-00001-of-00002.safetensors";  // it lives in shard 2
  WriteFile(model / "model.safetensors.index.json", index.dump());
  const std::string error = testing::UserErrorOf([&] { Checkpoint::Open(model); });
  EXPECT_NE(error.find("model.transformer.ln_f.weight"), std::string::npos) << error;
  WriteFile(model / "model.safetensors.index.json",
            ReadFile(SharedDir() / "models" / "tiny-llada-sharded" / "model.safetensors.index.json"));
  EXPECT_NO_THROW(Checkpoint::Open(model));
  std::filesystem::remove(model / "model-00002-of-00002.safetensors");
  EXPECT_NE(testing::UserErrorOf([&] { Checkpoint::Open(model); }).find("shard listed in the index is missing"), std::string::npos);
}

}  // namespace
}  // namespace llada
