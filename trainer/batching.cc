#include "trainer/batching.h"

#include <algorithm>
#include <unordered_map>

#include "trainer/internal/random.h"

namespace ponder::trainer {

std::vector<std::vector<int64_t>> SplitMiniBatches(const std::vector<int64_t>& group_ids,
                                                   int64_t groups_per_mini_batch,
                                                   std::mt19937_64* rng) {
  std::vector<std::vector<int64_t>> groups;
  std::unordered_map<int64_t, size_t> slot;
  for (size_t i = 0; i < group_ids.size(); ++i) {
    auto [it, added] = slot.emplace(group_ids[i], groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(static_cast<int64_t>(i));
  }
  if (rng != nullptr) internal::Shuffle(groups, *rng);
  const size_t per =
      groups_per_mini_batch <= 0 ? groups.size() : static_cast<size_t>(groups_per_mini_batch);
  std::vector<std::vector<int64_t>> out;
  for (size_t g = 0; g < groups.size(); g += std::max<size_t>(per, 1)) {
    std::vector<int64_t> mini;
    for (size_t k = g; k < std::min(groups.size(), g + per); ++k) {
      mini.insert(mini.end(), groups[k].begin(), groups[k].end());
    }
    out.push_back(std::move(mini));
  }
  return out;
}

std::vector<std::vector<int64_t>> PackMicroBatches(const std::vector<int64_t>& indices,
                                                   const std::vector<int64_t>& lengths,
                                                   int64_t max_tokens) {
  std::vector<int64_t> order = indices;
  std::stable_sort(order.begin(), order.end(),
                   [&lengths](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> out;
  int64_t longest = 0;
  for (int64_t i : order) {
    const int64_t len = lengths[i];
    if (!out.empty() &&
        static_cast<int64_t>(out.back().size() + 1) * std::max(longest, len) <= max_tokens) {
      out.back().push_back(i);
      longest = std::max(longest, len);
      continue;
    }
    out.push_back({i});
    longest = len;
  }
  return out;
}

}  // namespace ponder::trainer
