// Constructors of the prompt samplers (one file each) and helpers for their saved states.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/prompt_sampler.h"

namespace ponder::trainer::internal {

std::unique_ptr<PromptSampler> MakeUniformSampler(const SamplerOptions& options, int64_t size,
                                                  uint64_t seed);
absl::StatusOr<std::unique_ptr<PromptSampler>> MakeCurriculumSampler(
    const SamplerOptions& options, const std::vector<int64_t>& levels, uint64_t seed);
std::unique_ptr<PromptSampler> MakePrioritizedSampler(const SamplerOptions& options, int64_t size,
                                                      uint64_t seed);

// Parses a saved state and checks its "sampler" and "dataset_size" fields.
absl::StatusOr<nlohmann::json> ParseSamplerState(const std::string& state, const std::string& kind,
                                                 int64_t dataset_size);

// Reads a field of a saved state; InvalidArgument naming the field when absent or mistyped.
template <typename T>
absl::StatusOr<T> StateField(const nlohmann::json& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end()) {
    return absl::InvalidArgumentError(std::string("sampler state lacks field '") + key + "'");
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(std::string("sampler state field '") + key +
                                      "' has the wrong type");
  }
}

}  // namespace ponder::trainer::internal
