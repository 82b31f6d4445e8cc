// CPython's random.Random, reproduced bit for bit.
//
// lm-evaluation-harness draws few-shot examples with random.Random(1234).sample()
// and shuffles GPQA's options with random.Random(42); published numbers depend on
// exactly which documents those calls pick, so we port the Mersenne Twister with
// CPython's init_by_array seeding and its _randbelow/sample/shuffle algorithms.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace llada {

class PyRandom {
 public:
  // random.Random(seed) for a non-negative integer seed.
  explicit PyRandom(uint64_t seed);

  uint32_t GenRandUint32();
  // random.getrandbits(k) for 0 < k <= 64.
  uint64_t GetRandBits(int k);
  // random._randbelow(n) for n > 0 (rejection sampling on getrandbits).
  uint64_t RandBelow(uint64_t n);
  // random.random(): 53-bit float in [0, 1).
  double Random();
  // random.sample(range(population_size), k): indices in draw order.
  std::vector<uint64_t> SampleIndices(uint64_t population_size, uint64_t k);
  // random.shuffle(x) applied to `indices` in place.
  void Shuffle(std::vector<uint64_t>& indices);

 private:
  static constexpr int kN = 624;
  void InitGenrand(uint32_t seed);
  void InitByArray(const std::vector<uint32_t>& key);

  std::array<uint32_t, kN> state_{};
  int index_ = kN + 1;
};

}  // namespace llada
