#include "core/py_random.h"

#include <cmath>
#include <unordered_set>

#include "core/errors.h"

namespace llada {

PyRandom::PyRandom(uint64_t seed) {
  // CPython splits abs(seed) into little-endian 32-bit words; 0 becomes [0].
  std::vector<uint32_t> key;
  do {
    key.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
    seed >>= 32;
  } while (seed != 0);
  InitByArray(key);
}

void PyRandom::InitGenrand(uint32_t seed) {
  state_[0] = seed;
  for (int i = 1; i < kN; ++i) {
    state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  index_ = kN;
}

void PyRandom::InitByArray(const std::vector<uint32_t>& key) {
  InitGenrand(19650218u);
  int i = 1;
  size_t j = 0;
  const size_t key_length = key.size();
  for (size_t k = (kN > key_length ? kN : key_length); k > 0; --k) {
    state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] +
                static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      state_[0] = state_[kN - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) -
                static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      state_[0] = state_[kN - 1];
      i = 1;
    }
  }
  state_[0] = 0x80000000u;
}

uint32_t PyRandom::GenRandUint32() {
  static constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
  static constexpr int kM = 397;
  if (index_ >= kN) {
    int k = 0;
    for (; k < kN - kM; ++k) {
      uint32_t y = (state_[k] & kUpper) | (state_[k + 1] & kLower);
      state_[k] = state_[k + kM] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    for (; k < kN - 1; ++k) {
      uint32_t y = (state_[k] & kUpper) | (state_[k + 1] & kLower);
      state_[k] = state_[k + (kM - kN)] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    uint32_t y = (state_[kN - 1] & kUpper) | (state_[0] & kLower);
    state_[kN - 1] = state_[kM - 1] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    index_ = 0;
  }
  uint32_t y = state_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint64_t PyRandom::GetRandBits(int k) {
  if (k <= 0 || k > 64) throw InternalError("GetRandBits supports 1..64 bits");
  if (k <= 32) return GenRandUint32() >> (32 - k);
  // CPython fills 32-bit words least significant first; the last word keeps
  // only its top bits.
  uint64_t low = GenRandUint32();
  uint64_t high = GenRandUint32() >> (64 - k);
  return low | (high << 32);
}

uint64_t PyRandom::RandBelow(uint64_t n) {
  if (n == 0) throw InternalError("RandBelow(0)");
  int bits = 0;
  for (uint64_t v = n; v != 0; v >>= 1) ++bits;  // n.bit_length()
  uint64_t r = GetRandBits(bits);
  while (r >= n) r = GetRandBits(bits);
  return r;
}

double PyRandom::Random() {
  uint32_t a = GenRandUint32() >> 5, b = GenRandUint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<uint64_t> PyRandom::SampleIndices(uint64_t n, uint64_t k) {
  if (k > n) throw UserError("sample larger than population (" + std::to_string(k) + " > " +
                             std::to_string(n) + ")");
  std::vector<uint64_t> result(k);
  // CPython picks between two algorithms by population size; the choice changes
  // which indices come out, so it is copied exactly.
  uint64_t setsize = 21;
  if (k > 5) setsize += static_cast<uint64_t>(std::pow(4.0, std::ceil(std::log(k * 3.0) / std::log(4.0))));
  if (n <= setsize) {
    std::vector<uint64_t> pool(n);
    for (uint64_t i = 0; i < n; ++i) pool[i] = i;
    for (uint64_t i = 0; i < k; ++i) {
      uint64_t j = RandBelow(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<uint64_t> selected;
    for (uint64_t i = 0; i < k; ++i) {
      uint64_t j = RandBelow(n);
      while (selected.count(j)) j = RandBelow(n);
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

void PyRandom::Shuffle(std::vector<uint64_t>& x) {
  for (size_t i = x.size(); i-- > 1;) {
    uint64_t j = RandBelow(i + 1);
    std::swap(x[i], x[j]);
  }
}

}  // namespace llada
