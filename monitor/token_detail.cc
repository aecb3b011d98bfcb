#include "monitor/token_detail.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ponder::monitor {

using nlohmann::json;

namespace {

// The double nearest to the shortest decimal that reads back as `v`: -0.1f is written -0.1,
// not -0.10000000149011612.
double Shortest(float v) {
  char text[32];
  const std::to_chars_result r = std::to_chars(text, text + sizeof(text) - 1, v);
  *r.ptr = '\0';
  return std::strtod(text, nullptr);
}

// Null for an empty list (not recorded); each non-finite value becomes null.
json Values(const std::vector<float>& values) {
  if (values.empty()) return nullptr;
  json out = json::array();
  for (float v : values) out.push_back(std::isfinite(v) ? json(Shortest(v)) : json(nullptr));
  return out;
}

}  // namespace

json ToJson(const TokenDetailRecord& r) {
  json advantage = Values(r.advantage);
  return {{"step", r.step},
          {"prompt_uid", r.prompt_uid},
          {"sample_index", r.sample_index},
          {"token_ids", r.token_ids},
          {"tokens", r.tokens},
          {"behaviour_logprobs", Values(r.behaviour_logprobs)},
          {"logprobs", Values(r.logprobs)},
          {"entropy", Values(r.entropy)},
          {"advantage", advantage.is_null() ? json::array() : advantage},
          {"loss_mask", r.loss_mask}};
}

int64_t TokenDetailCount(double share, int64_t samples) {
  if (share <= 0 || samples <= 0) return 0;
  const int64_t n = std::llround(share * static_cast<double>(samples));
  return std::min(samples, std::max<int64_t>(1, n));
}

}  // namespace ponder::monitor
