// GPU memory figures for the metrics: what LibTorch's CUDA caching allocator holds on the
// model's device. Builds without CUDA (PONDER_WITH_CUDA off) and CPU devices report none.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ponder::model {

struct DeviceMemory {
  int64_t allocated = 0;       // bytes in live tensors
  int64_t peak_allocated = 0;  // the most since the last ResetPeakDeviceMemory
  int64_t reserved = 0;        // bytes the allocator holds from the driver (cached included)
};

// The allocator's figures for a CUDA `device`; nullopt for other devices or without CUDA.
std::optional<DeviceMemory> GetDeviceMemory(c10::Device device);
// Starts a new peak for GetDeviceMemory's peak_allocated (nothing without CUDA).
void ResetPeakDeviceMemory(c10::Device device);

// Adds perf/gpu_memory_{allocated,peak_allocated,reserved}_gib for a CUDA `device` to
// `metrics` and starts a new peak, so that each step reports its own; nothing otherwise.
void AddDeviceMemoryMetrics(c10::Device device, std::map<std::string, double>* metrics);

}  // namespace ponder::model
