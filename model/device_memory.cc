#include "model/device_memory.h"

#ifdef PONDER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace ponder::model {

std::optional<DeviceMemory> GetDeviceMemory(c10::Device device) {
#ifdef PONDER_WITH_CUDA
  if (device.is_cuda()) {
    const c10::DeviceIndex index = device.has_index() ? device.index() : 0;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    // Index 0 is StatType::AGGREGATE (all pools); the enum has moved between namespaces
    // across LibTorch versions, its order has not.
    constexpr size_t kAggregate = 0;
    DeviceMemory m;
    m.allocated = stats.allocated_bytes[kAggregate].current;
    m.peak_allocated = stats.allocated_bytes[kAggregate].peak;
    m.reserved = stats.reserved_bytes[kAggregate].current;
    return m;
  }
#endif
  (void)device;
  return std::nullopt;
}

void ResetPeakDeviceMemory(c10::Device device) {
#ifdef PONDER_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
  }
#endif
  (void)device;
}

void AddDeviceMemoryMetrics(c10::Device device, std::map<std::string, double>* metrics) {
  const std::optional<DeviceMemory> m = GetDeviceMemory(device);
  if (!m) return;
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  (*metrics)["perf/gpu_memory_allocated_gib"] = static_cast<double>(m->allocated) / kGiB;
  (*metrics)["perf/gpu_memory_peak_allocated_gib"] = static_cast<double>(m->peak_allocated) / kGiB;
  (*metrics)["perf/gpu_memory_reserved_gib"] = static_cast<double>(m->reserved) / kGiB;
  ResetPeakDeviceMemory(device);
}

}  // namespace ponder::model
