#include "models/torch/device_memory.h"

#if LLADA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
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
#else
std::optional<int64_t> PeakDeviceMemoryBytes(const c10::Device&) { return std::nullopt; }
void ResetPeakDeviceMemory(const c10::Device&) {}
#endif

}  // namespace llada
