#include "rollout/internal/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ponder::rollout::internal {
namespace {

// Tokens per step still given to prefill when running sequences already fill the step.
constexpr int64_t kMinPrefillChunk = 32;

}  // namespace

Scheduler::Scheduler(model::KvCache cache, const Options& options)
    : cache_(std::move(cache)), options_(options) {
  // As vLLM: keep 1% of the pool free when admitting, so that running samples can grow a
  // while before anyone is preempted.
  watermark_ = std::max<int64_t>(1, cache_.num_blocks() / 100);
}

int64_t Scheduler::BlocksFor(int64_t tokens) const {
  return (tokens + cache_.block_size() - 1) / cache_.block_size();
}

int64_t Scheduler::num_running() const {
  int64_t n = static_cast<int64_t>(running_.size());
  for (const auto& seq : running_) n += static_cast<int64_t>(seq->followers.size());
  return n;
}

int64_t Scheduler::num_waiting() const {
  int64_t n = 0;
  for (const SequenceGroup& g : waiting_) n += static_cast<int64_t>(g.size());
  return n;
}

int64_t Scheduler::Promised() const {
  int64_t promised = 0;
  for (const auto& seq : running_) {
    if (seq->fed < seq->context_len()) {
      const int64_t held = static_cast<int64_t>(cache_.block_table(seq->slot).size());
      promised += std::max<int64_t>(0, BlocksFor(seq->context_len()) - held);
    }
    promised += static_cast<int64_t>(seq->followers.size());
  }
  return promised;
}

void Scheduler::Enqueue(SequenceGroup group) {
  if (!group.empty()) waiting_.push_back(std::move(group));
}

void Scheduler::Admit() {
  int64_t running = num_running(), promised = Promised();
  while (!waiting_.empty() && running < options_.max_running && cache_.num_free() > 0) {
    SequenceGroup& group = waiting_.front();
    // The watermark only applies beside others: alone, a sample may take the whole pool.
    const int64_t available =
        cache_.num_free_blocks() - promised - (running_.empty() ? 0 : watermark_);
    int64_t need = BlocksFor(group.front()->context_len()) + 1;
    if (available < need) break;
    std::unique_ptr<Sequence> leader = std::move(group.front());
    group.pop_front();
    leader->slot = *cache_.Acquire();
    leader->fed = 0;
    leader->decoding = false;
    ++running;
    while (!group.empty() && running < options_.max_running && cache_.num_free() > 0 &&
           available >= need + 1) {
      std::unique_ptr<Sequence> f = std::move(group.front());
      group.pop_front();
      f->slot = *cache_.Acquire();
      f->fed = 0;
      f->decoding = false;
      leader->followers.push_back(std::move(f));
      ++need;
      ++running;
    }
    promised += need;
    if (group.empty()) waiting_.pop_front();
    running_.push_back(std::move(leader));
  }
}

void Scheduler::PreemptNewest() {
  std::unique_ptr<Sequence> victim = std::move(running_.back());
  running_.pop_back();
  SequenceGroup group;
  cache_.Release(victim->slot).IgnoreError();
  victim->slot = -1;
  victim->fed = 0;
  victim->decoding = false;
  std::vector<std::unique_ptr<Sequence>> followers = std::move(victim->followers);
  victim->followers.clear();
  group.push_back(std::move(victim));
  for (auto& f : followers) {
    cache_.Release(f->slot).IgnoreError();
    f->slot = -1;
    group.push_back(std::move(f));
  }
  waiting_.push_front(std::move(group));
  ++preemptions_;
}

Scheduler::Plan Scheduler::PlanStep() {
  Admit();
  // Every sample whose context is in the cache but for its last token decodes one token; if
  // the pool cannot hold those, the newest give their blocks back.
  auto decode_blocks = [&] {
    int64_t blocks = 0;
    for (const auto& seq : running_) {
      if (seq->context_len() - seq->fed == 1) blocks += cache_.BlocksToAppend(seq->slot, 1);
    }
    return blocks;
  };
  int64_t decode_need = decode_blocks();
  while (running_.size() > 1 && decode_need > cache_.num_free_blocks()) {
    PreemptNewest();
    decode_need = decode_blocks();
  }
  Plan plan;
  for (const auto& seq : running_) {
    if (seq->context_len() - seq->fed != 1) continue;
    plan.slots.push_back(seq->slot);
    plan.tokens.push_back({seq->context_token(seq->fed)});
    plan.rows.push_back(seq.get());
    if (!seq->decoding) ++plan.prefill_tokens;
  }
  // Prefill chunks, oldest first, within the step's token budget and the blocks left. A
  // sample in prefill shares no blocks yet, so n tokens take BlocksFor(length + n) - held.
  const int64_t decode_rows = static_cast<int64_t>(plan.rows.size());
  int64_t budget = std::max(options_.max_step_tokens - decode_rows,
                            std::min(options_.max_step_tokens, kMinPrefillChunk));
  int64_t free = cache_.num_free_blocks() - decode_need;
  for (const auto& seq : running_) {
    const int64_t left = seq->context_len() - seq->fed;
    if (left <= 1 || budget <= 0) continue;
    const int64_t held = static_cast<int64_t>(cache_.block_table(seq->slot).size());
    const int64_t room = (held + free) * cache_.block_size() - cache_.length(seq->slot);
    const int64_t n = std::min({left, budget, room});
    if (n <= 0) continue;
    free -= cache_.BlocksToAppend(seq->slot, n);
    std::vector<int32_t> chunk(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      chunk[static_cast<size_t>(i)] = seq->context_token(seq->fed + i);
    plan.slots.push_back(seq->slot);
    plan.tokens.push_back(std::move(chunk));
    plan.rows.push_back(seq.get());
    budget -= n;
    plan.prefill_tokens += n;
  }
  if (plan.empty() && running_.size() > 1) {
    // Prefills that the pool cannot continue: the newest waits, the others go on.
    PreemptNewest();
    return PlanStep();
  }
  return plan;
}

std::vector<Scheduler::Sampler> Scheduler::Commit(const Plan& plan) {
  std::vector<Sampler> out;
  std::vector<std::unique_ptr<Sequence>> forked;
  for (size_t r = 0; r < plan.rows.size(); ++r) {
    Sequence* seq = plan.rows[r];
    seq->fed += static_cast<int64_t>(plan.tokens[r].size());
    if (seq->fed != seq->context_len()) continue;
    out.push_back({seq, static_cast<int64_t>(r)});
    if (seq->followers.empty()) continue;
    std::vector<int64_t> targets;
    for (auto& f : seq->followers) targets.push_back(f->slot);
    if (absl::Status shared = cache_.Fork(seq->slot, targets); !shared.ok()) {
      FailFollowers(*seq, shared);
      continue;
    }
    for (auto& f : seq->followers) {
      f->fed = seq->fed;
      out.push_back({f.get(), static_cast<int64_t>(r)});
      forked.push_back(std::move(f));
    }
    seq->followers.clear();
  }
  for (auto& f : forked) running_.push_back(std::move(f));
  return out;
}

void Scheduler::FailFollowers(Sequence& leader, const absl::Status& fork) {
  // Without the leader's blocks a follower's slot holds no prompt: sampling on would draw
  // tokens from nothing.
  const absl::Status error = absl::InternalError(
      absl::StrCat("rollout engine: ", leader.followers.size(), " samples of prompt ",
                   leader.prompt().prompt_index, " could not share its prefill in the KV cache (",
                   fork.message(), "); they end with this error"));
  spdlog::error("{}", error.ToString());
  for (auto& f : leader.followers) {
    if (f->slot >= 0 && cache_.in_use(f->slot)) cache_.Release(f->slot).IgnoreError();
    f->slot = -1;
    if (f->request().end_status.ok()) f->request().end_status = error;
    failed_.push_back(std::move(f));
  }
  leader.followers.clear();
}

std::unique_ptr<Sequence> Scheduler::Remove(Sequence* seq) {
  auto it =
      std::find_if(running_.begin(), running_.end(), [&](const auto& s) { return s.get() == seq; });
  if (it == running_.end()) return nullptr;
  std::unique_ptr<Sequence> out = std::move(*it);
  running_.erase(it);
  cache_.Release(out->slot).IgnoreError();
  out->slot = -1;
  return out;
}

void Scheduler::RemoveWhere(const std::function<bool(const Sequence&)>& pred,
                            const std::function<void(std::unique_ptr<Sequence>)>& end) {
  auto release = [&](std::unique_ptr<Sequence>& seq) {
    if (seq->slot >= 0) cache_.Release(seq->slot).IgnoreError();
    seq->slot = -1;
  };
  std::vector<std::unique_ptr<Sequence>> ended;
  for (auto& seq : running_) {
    if (!pred(*seq)) continue;
    for (auto& f : seq->followers) {
      release(f);
      ended.push_back(std::move(f));
    }
    seq->followers.clear();
    release(seq);
    ended.push_back(std::move(seq));
  }
  running_.erase(std::remove(running_.begin(), running_.end(), nullptr), running_.end());
  for (SequenceGroup& group : waiting_) {
    for (auto& seq : group) {
      if (seq && pred(*seq)) ended.push_back(std::move(seq));
    }
    group.erase(std::remove(group.begin(), group.end(), nullptr), group.end());
  }
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                [](const SequenceGroup& g) { return g.empty(); }),
                 waiting_.end());
  for (auto& seq : ended) end(std::move(seq));
}

}  // namespace ponder::rollout::internal
