#include "models/torch/device_memory.h"

#if LLADA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#endif

namespace llada {

#if LLADA_WITH_CUDA
namespace {
c10::DeviceIndex IndexOf(const c10::Device& device) { return device.has_index() ? device.index() : 0; }
}  // namespace

std::optional<int64_t> PeakDeviceMemoryBytes(const c10::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(IndexOf(device));
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}

void ResetPeakDeviceMemory(const c10::Device& device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(IndexOf(device));
}

std::optional<int64_t> FreeDeviceMemoryBytes(const c10::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  c10::cuda::CUDAGuard guard(IndexOf(device));
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(IndexOf(device));
  const auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  const int64_t cached = stats.reserved_bytes[aggregate].current - stats.allocated_bytes[aggregate].current;
  return static_cast<int64_t>(free) + std::max<int64_t>(0, cached);
}
#else
std::optional<int64_t> PeakDeviceMemoryBytes(const c10::Device&) { return std::nullopt; }
void ResetPeakDeviceMemory(const c10::Device&) {}
std::optional<int64_t> FreeDeviceMemoryBytes(const c10::Device&) { return std::nullopt; }
#endif

}  // namespace llada
