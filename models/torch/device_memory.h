// GPU memory as LibTorch's CUDA caching allocator counts it (what a run or a
// benchmark really held, which nvidia-smi's process total overstates). The
// implementation is compiled against the CUDA allocator only in a LibTorch
// built with CUDA (LLADA_WITH_CUDA, set by CMake from CAFFE2_USE_CUDA).
#pragma once

#include <cstdint>
#include <optional>

#include <c10/core/Device.h>

namespace llada {

// Peak bytes allocated on `device` since the last reset; nullopt on the CPU or
// in a build without CUDA.
std::optional<int64_t> PeakDeviceMemoryBytes(const c10::Device& device);
void ResetPeakDeviceMemory(const c10::Device& device);

// Bytes a new allocation on `device` can still get: the driver's free memory
// plus what LibTorch's caching allocator holds reserved but unused. nullopt on
// the CPU or in a build without CUDA.
std::optional<int64_t> FreeDeviceMemoryBytes(const c10::Device& device);

}  // namespace llada
