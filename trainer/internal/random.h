// Deterministic random helpers on std::mt19937_64 whose results do not depend on the
// standard library's distribution implementations (those differ between libstdc++ and
// libc++), so seeded data, sampler streams and saved states are the same everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ponder::trainer::internal {

// Uniform integer in [0, n), n >= 1 (rejection sampling, no modulo bias).
inline uint64_t UniformInt(std::mt19937_64& rng, uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

// Uniform double in [0, 1) with 53 random bits.
inline double UniformDouble(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Fisher-Yates shuffle with UniformInt.
template <typename T>
void Shuffle(std::vector<T>& items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) {
    size_t j = UniformInt(rng, i);
    std::swap(items[i - 1], items[j]);
  }
}

// The engine's full state as text, and back (exact; the standard defines the format).
inline std::string EngineState(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}
inline bool SetEngineState(const std::string& state, std::mt19937_64& rng) {
  std::istringstream in(state);
  std::mt19937_64 parsed;
  in >> parsed;
  if (in.fail()) return false;
  rng = parsed;
  return true;
}

}  // namespace ponder::trainer::internal
