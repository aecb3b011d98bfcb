// The rollout engine's batch scheduler: which samples hold KV cache blocks, what each step
// feeds the model, and who gives their blocks back when the pool runs out.
//
// Samples wait in arrival order, a prompt's samples as one group. A group is admitted when
// the pool's free blocks (less those already promised to admitted prefills, and a small
// watermark) hold its context plus one block per sample; its first sample (the leader) is
// prefilled, in chunks within the step's token budget, and the others hold only a slot until
// the leader's prefill ends and they fork its blocks (KvCache::Fork: the prompt is stored
// once). Running samples then take one block every block_size tokens.
//
// When a step needs more blocks than are free, the most recently admitted running samples are
// preempted (recompute): their blocks go back to the pool and they return to the front of the
// queue with everything they generated, to be prefilled again (prompt + tokens) when blocks
// free up. Tokens are drawn from counter-based randomness (sampler.h), so a preempted sample
// continues with the tokens it would have drawn anyway; nothing is lost or repeated. The
// oldest running sample is never preempted, and the pool holds at least one sequence of
// max_seq_len tokens, so every sample finishes.
//
// Scheduler thread only; plain C++ apart from the KV cache.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "rollout/internal/sequence.h"

namespace ponder::rollout::internal {

using SequenceGroup = std::deque<std::unique_ptr<Sequence>>;

class Scheduler {
 public:
  struct Options {
    int64_t max_running = 0;      // samples holding a slot at once (> 0)
    int64_t max_step_tokens = 0;  // tokens fed per step (> 0)
  };
  Scheduler(model::KvCache cache, const Options& options);

  // What one step feeds the model: rows[i] gets tokens[i] appended in slot slots[i].
  struct Plan {
    std::vector<int64_t> slots;
    std::vector<std::vector<int32_t>> tokens;
    std::vector<Sequence*> rows;
    int64_t prefill_tokens = 0;  // prompt (and re-fed) tokens among them
    bool empty() const { return rows.empty(); }
  };

  // Samples join the back of the queue (a prompt's samples, or one resumed sample).
  void Enqueue(SequenceGroup group);
  // Admits waiting samples, preempts running ones if the pool cannot hold the step, and
  // returns the step's rows (empty when nothing runs).
  Plan PlanStep();
  // After the model ran `plan`: advances what each row has fed, forks the samples waiting on
  // a leader whose prefill ended, and returns who samples now, each with its row of the
  // step's logits.
  struct Sampler {
    Sequence* seq;
    int64_t row;
  };
  // A leader whose followers cannot fork its blocks (KvCache::Fork failed) samples on; its
  // followers do not: they leave the schedule with their slots freed, their request's
  // end_status set to the error (the first error of a request wins), and wait in TakeFailed.
  std::vector<Sampler> Commit(const Plan& plan);
  // The samples Commit took out because their fork failed; the engine ends them and the rest
  // of their requests.
  std::vector<std::unique_ptr<Sequence>> TakeFailed() { return std::move(failed_); }

  // Removes a running sample (it finished or was paused): its slot and blocks go back.
  std::unique_ptr<Sequence> Remove(Sequence* seq);
  // Removes every sample (running, waiting or waiting to fork) for which `pred` holds, freeing
  // its slot; `end` gets each removed sample.
  void RemoveWhere(const std::function<bool(const Sequence&)>& pred,
                   const std::function<void(std::unique_ptr<Sequence>)>& end);

  const model::KvCache& cache() const { return cache_; }
  model::KvCache& mutable_cache() { return cache_; }  // for the model's Step
  bool idle() const { return running_.empty() && waiting_.empty(); }
  bool has_running() const { return !running_.empty(); }
  int64_t num_running() const;  // samples holding a slot
  int64_t num_waiting() const;
  int64_t blocks_in_use() const { return cache_.num_blocks() - cache_.num_free_blocks(); }
  int64_t preemptions() const { return preemptions_; }

 private:
  int64_t BlocksFor(int64_t tokens) const;
  // Blocks that admitted samples still have to take before their first sample: the rest of
  // each prefill, and one per sample waiting to fork.
  int64_t Promised() const;
  void Admit();
  // Preempts the newest running sample (with the samples waiting to fork it).
  void PreemptNewest();
  // Takes `leader`'s followers out after their fork failed with `fork` (see Commit).
  void FailFollowers(Sequence& leader, const absl::Status& fork);

  model::KvCache cache_;
  Options options_;
  int64_t watermark_ = 0;  // blocks kept free at admission, so that growth rarely preempts
  std::deque<SequenceGroup> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;  // in admission order
  std::vector<std::unique_ptr<Sequence>> failed_;   // see Commit
  int64_t preemptions_ = 0;
};

}  // namespace ponder::rollout::internal
