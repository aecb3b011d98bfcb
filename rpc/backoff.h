// Exponential backoff with jitter for retried calls: attempt k (0-based) waits about
// initial * multiplier^k, capped, scaled by a random factor in [1 - jitter, 1].
#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/time/time.h"

namespace ponder::rpc {

struct Backoff {
  absl::Duration initial = absl::Milliseconds(200);
  double multiplier = 2.0;
  absl::Duration max = absl::Seconds(5);
  double jitter = 0.2;

  absl::Duration Delay(int attempt, std::mt19937_64& rng) const {
    const double base = absl::ToDoubleSeconds(initial) * std::pow(multiplier, attempt);
    const double capped = std::min(base, absl::ToDoubleSeconds(max));
    std::uniform_real_distribution<double> scale(1.0 - jitter, 1.0);
    return absl::Seconds(capped * scale(rng));
  }
};

}  // namespace ponder::rpc
