// RolloutPool, generation: spreading prompts over workers, collecting trajectories exactly
// once, re-issuing the prompts of a failed worker. Workers, probes and weights are in
// worker_pool_members.cc.
#include "rollout/worker_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "rollout/internal/worker_pool_impl.h"

namespace ponder::rollout {

class PoolCallHandle : public GenerateCall {
 public:
  PoolCallHandle(std::shared_ptr<RolloutPool::Impl> pool, std::shared_ptr<PoolCall> call)
      : pool_(std::move(pool)), call_(std::move(call)) {}
  void Cancel() override { pool_->CancelCall(call_); }

 private:
  std::shared_ptr<RolloutPool::Impl> pool_;
  std::shared_ptr<PoolCall> call_;
};

namespace {

// A worker's version numbers back to the trainer's.
void ToTrainerVersions(int64_t offset, Trajectory* t) {
  t->weight_version -= offset;
  for (Segment& s : t->segments) s.weight_version -= offset;
}

Trajectory AbortedSample(uint64_t prompt, uint32_t sample) {
  Trajectory t;
  t.prompt_index = prompt;
  t.sample_index = sample;
  t.finish_reason = FinishReason::kAborted;
  return t;
}

int64_t Count(const std::map<uint64_t, std::set<uint32_t>>& outstanding,
              const std::vector<uint64_t>& prompts) {
  int64_t n = 0;
  for (uint64_t p : prompts) {
    auto it = outstanding.find(p);
    if (it != outstanding.end()) n += static_cast<int64_t>(it->second.size());
  }
  return n;
}

}  // namespace

absl::StatusOr<std::shared_ptr<GenerateCall>> RolloutPool::Impl::StartGenerate(
    GenerateRequest request, GenerateCallbacks callbacks) {
  auto call = std::make_shared<PoolCall>();
  call->callbacks = std::move(callbacks);
  call->request_id = request.request_id;
  call->return_text = request.return_text;
  call->deadline = request.deadline;
  for (PromptRequest& p : request.prompts) {
    if (call->prompts.count(p.prompt_index)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request '", request.request_id, "': prompt index ", p.prompt_index, " appears twice"));
    }
    std::set<uint32_t>& samples = call->outstanding[p.prompt_index];
    for (uint32_t s = 0; s < p.n; ++s) samples.insert(s);
    call->unassigned.push_back(p.prompt_index);
    call->prompts[p.prompt_index] = std::move(p);
  }
  std::vector<Sub*> subs;
  std::function<void()> after;
  {
    std::lock_guard<std::mutex> call_lock(call->mu);
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Paused partial rollouts: resumed by the worker that holds them, or generated again
      // from the start when their worker failed since.
      if (request.resume_paused) {
        for (const std::shared_ptr<PoolWorker>& worker : workers_) {
          if (worker->paused.empty() || worker->state != PoolWorker::State::kAlive) continue;
          call->subs.push_back(std::make_unique<Sub>());
          Sub* resume = call->subs.back().get();
          resume->worker = worker;
          resume->offset = worker->offset;
          resume->epoch = worker->epoch;
          resume->request.expect_weight_version = worker->version + worker->offset;
          resume->request.request_id = absl::StrCat(call->request_id, "/", call->next_sub++);
          resume->request.resume_paused = true;
          resume->request.return_text = call->return_text;
          resume->request.deadline = call->deadline;
          worker->in_flight += static_cast<int64_t>(worker->paused.size());
          subs.push_back(resume);
          for (auto& [key, prompt] : worker->paused) {
            if (!call->prompts.count(key.first)) {
              call->prompts[key.first] = prompt;
              resume->prompts.push_back(key.first);
            }
            call->outstanding[key.first].insert(key.second);
          }
          worker->paused.clear();
        }
        counts_.reissued_samples += static_cast<int64_t>(orphaned_.size());
        for (auto& [key, prompt] : orphaned_) {
          if (!call->prompts.count(key.first)) {
            call->prompts[key.first] = prompt;
            call->unassigned.push_back(key.first);
            ++counts_.reissued_prompts;
          }
          call->outstanding[key.first].insert(key.second);
        }
        orphaned_.clear();
      }
      calls_.insert(call);
    }
    if (call->outstanding.empty()) {
      after = FinishLocked(*call, call, absl::OkStatus());
    } else {
      std::vector<Sub*> assigned = AssignLocked(*call);
      subs.insert(subs.end(), assigned.begin(), assigned.end());
    }
  }
  if (after) after();
  Launch(call, subs);
  return std::shared_ptr<GenerateCall>(std::make_shared<PoolCallHandle>(shared_from_this(), call));
}

std::vector<PoolCall::Sub*> RolloutPool::Impl::AssignLocked(PoolCall& call) {
  std::vector<Sub*> out;
  if (call.unassigned.empty()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PoolWorker*> alive;
  for (const auto& w : workers_) {
    if (w->state == PoolWorker::State::kAlive) alive.push_back(w.get());
  }
  if (alive.empty()) {
    if (call.waiting_since == absl::InfiniteFuture()) call.waiting_since = absl::Now();
    return out;
  }
  call.waiting_since = absl::InfiniteFuture();
  std::map<PoolWorker*, Sub*> by_worker;
  for (uint64_t p : call.unassigned) {
    const std::set<uint32_t>& owed = call.outstanding[p];
    if (owed.empty()) continue;
    const int64_t n = static_cast<int64_t>(owed.size());
    // The least loaded: sequences in flight per byte of KV cache.
    PoolWorker* best = nullptr;
    double best_load = 0;
    for (PoolWorker* w : alive) {
      const double load = static_cast<double>(w->in_flight + n) / w->kv_budget;
      if (best == nullptr || load < best_load) {
        best = w;
        best_load = load;
      }
    }
    best->in_flight += n;
    Sub*& sub = by_worker[best];
    if (sub == nullptr) {
      call.subs.push_back(std::make_unique<Sub>());
      sub = call.subs.back().get();
      for (const auto& w : workers_) {
        if (w.get() == best) sub->worker = w;
      }
      sub->offset = best->offset;
      sub->epoch = best->epoch;
      sub->request.expect_weight_version = best->version + best->offset;
      sub->request.request_id = absl::StrCat(call.request_id, "/", call.next_sub++);
      sub->request.return_text = call.return_text;
      sub->request.deadline = call.deadline;
      out.push_back(sub);
    }
    PromptRequest prompt = call.prompts[p];
    prompt.n = *owed.rbegin() + 1;  // samples 0..k; those already delivered are dropped
    sub->request.prompts.push_back(std::move(prompt));
    sub->prompts.push_back(p);
  }
  call.unassigned.clear();
  return out;
}

void RolloutPool::Impl::Launch(const std::shared_ptr<PoolCall>& call,
                               const std::vector<Sub*>& subs) {
  // The callbacks hold the pool weakly and release what they hold before counting themselves
  // done (sub_calls_); the pool outlives them all (~RolloutPool waits).
  std::weak_ptr<Impl> weak = weak_from_this();
  std::shared_ptr<SubCallCount> count = sub_calls_;
  for (Sub* sub : subs) {
    GenerateCallbacks callbacks;
    callbacks.on_trajectory = [weak, call, sub](Trajectory t) {
      if (std::shared_ptr<Impl> self = weak.lock()) self->OnTrajectory(call, sub, std::move(t));
    };
    callbacks.on_done = [weak, call = call, sub, count](absl::Status status) mutable {
      if (std::shared_ptr<Impl> self = weak.lock()) self->OnSubDone(call, sub, status);
      call.reset();
      count->Done();
    };
    count->Add();
    absl::StatusOr<std::shared_ptr<GenerateCall>> handle =
        sub->worker->client->StartGenerate(sub->request, std::move(callbacks));
    if (!handle.ok()) {  // not started: its callbacks are not called
      OnSubDone(call, sub, handle.status());
      count->Done();
      continue;
    }
    bool cancel = false;
    {
      std::lock_guard<std::mutex> call_lock(call->mu);
      sub->handle = *handle;
      cancel = sub->cancel || call->finished;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& calls = sub->worker->calls;
      calls.erase(std::remove_if(calls.begin(), calls.end(),
                                 [](const std::weak_ptr<GenerateCall>& c) { return c.expired(); }),
                  calls.end());
      calls.push_back(*handle);
      // Failed while this sub-call was starting: Fail did not see it.
      cancel = cancel || sub->worker->state != PoolWorker::State::kAlive;
    }
    if (cancel) (*handle)->Cancel();
  }
}

void RolloutPool::Impl::OnTrajectory(const std::shared_ptr<PoolCall>& call, Sub* sub,
                                     Trajectory t) {
  std::shared_ptr<GenerateCall> to_cancel;
  std::function<void()> after;
  {
    std::lock_guard<std::mutex> call_lock(call->mu);
    if (call->finished || sub->done) return;
    ToTrainerVersions(sub->offset, &t);
    if (t.finish_reason == FinishReason::kAborted) return;  // still owed; re-issued if need be
    auto owed = call->outstanding.find(t.prompt_index);
    const bool wanted = owed != call->outstanding.end() && owed->second.count(t.sample_index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!wanted) {
        ++counts_.duplicates_dropped;
        return;
      }
      --sub->worker->in_flight;
      if (t.finish_reason == FinishReason::kPaused) {
        sub->worker->paused[{t.prompt_index, t.sample_index}] = call->prompts[t.prompt_index];
      } else {
        ++sub->worker->served;
      }
    }
    owed->second.erase(t.sample_index);
    if (owed->second.empty()) call->outstanding.erase(owed);
    if (call->callbacks.on_trajectory) call->callbacks.on_trajectory(std::move(t));
    if (call->outstanding.empty() && call->unassigned.empty()) {
      after = FinishLocked(*call, call, absl::OkStatus());
    } else if (Count(call->outstanding, sub->prompts) == 0) {
      // All it owes is in: the rest it makes (samples of a re-issue delivered before) is
      // not needed.
      sub->cancel = true;
      to_cancel = sub->handle;
    }
  }
  if (after) after();
  if (to_cancel) to_cancel->Cancel();
}

void RolloutPool::Impl::OnSubDone(const std::shared_ptr<PoolCall>& call, Sub* sub,
                                  const absl::Status& status) {
  std::function<void()> after;
  std::vector<Sub*> launch;
  std::vector<std::weak_ptr<GenerateCall>> cancel;  // of the worker found failed
  {
    std::lock_guard<std::mutex> call_lock(call->mu);
    sub->done = true;
    if (call->finished) return;
    std::vector<uint64_t> owed;
    for (uint64_t p : sub->prompts) {
      if (call->outstanding.count(p)) owed.push_back(p);
    }
    const int64_t samples = Count(call->outstanding, owed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      sub->worker->in_flight -= samples;
    }
    const std::string& address = sub->worker->endpoint.address;
    if (owed.empty()) {
      if (call->outstanding.empty() && call->unassigned.empty()) {
        after = FinishLocked(*call, call, absl::OkStatus());
      }
    } else if (status.code() == absl::StatusCode::kInvalidArgument ||
               status.code() == absl::StatusCode::kUnauthenticated ||
               status.code() == absl::StatusCode::kPermissionDenied) {
      // The request itself: every worker would refuse it.
      after = FinishLocked(*call, call, Annotate(status, "rollout worker " + address));
    } else if (absl::Now() >= call->deadline) {
      after = FinishLocked(*call, call,
                           absl::DeadlineExceededError(absl::StrCat(
                               "rollout request '", call->request_id, "' passed its deadline")));
    } else {
      // The worker died, hung or was cut off (or it lost paused samples it was to resume):
      // failed before the prompts are handed out again, so that they go elsewhere.
      if (!status.ok()) {
        cancel = MarkFailed(sub->worker, std::string(status.message()), sub->epoch);
      }
      spdlog::warn(
          "rollout worker {} ended a call owing {} samples of {} prompts ({}); "
          "re-issuing them",
          address, samples, owed.size(),
          status.ok() ? std::string("it ended early") : std::string(status.message()));
      {
        std::lock_guard<std::mutex> lock(mu_);
        counts_.reissued_prompts += static_cast<int64_t>(owed.size());
        counts_.reissued_samples += samples;
      }
      call->unassigned.insert(call->unassigned.end(), owed.begin(), owed.end());
      launch = AssignLocked(*call);
    }
  }
  for (const auto& weak : cancel) {
    if (std::shared_ptr<GenerateCall> c = weak.lock()) c->Cancel();
  }
  if (after) after();
  Launch(call, launch);
}

std::function<void()> RolloutPool::Impl::FinishLocked(PoolCall& call,
                                                      const std::shared_ptr<PoolCall>& self,
                                                      absl::Status status) {
  call.finished = true;
  std::vector<std::shared_ptr<GenerateCall>> cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& sub : call.subs) {
      if (sub->done) continue;
      sub->worker->in_flight -= Count(call.outstanding, sub->prompts);
      if (sub->handle) cancel.push_back(sub->handle);
    }
    calls_.erase(self);
  }
  if (!status.ok()) {
    for (const auto& [prompt, samples] : call.outstanding) {
      for (uint32_t s : samples) {
        if (call.callbacks.on_trajectory) call.callbacks.on_trajectory(AbortedSample(prompt, s));
      }
    }
  }
  call.outstanding.clear();
  call.unassigned.clear();
  auto on_done = std::move(call.callbacks.on_done);
  call.callbacks = {};
  return [cancel = std::move(cancel), on_done = std::move(on_done), status]() {
    for (const auto& c : cancel) c->Cancel();
    if (on_done) on_done(status);
  };
}

void RolloutPool::Impl::CancelCall(const std::shared_ptr<PoolCall>& call) {
  std::function<void()> after;
  {
    std::lock_guard<std::mutex> call_lock(call->mu);
    if (call->finished) return;
    after = FinishLocked(*call, call, absl::CancelledError("the rollout call was cancelled"));
  }
  after();
}

void RolloutPool::Impl::DispatchWaiting() {
  std::vector<std::shared_ptr<PoolCall>> calls;
  std::string addresses;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls.assign(calls_.begin(), calls_.end());
    addresses = absl::StrJoin(options_.addresses, ", ");
  }
  for (const auto& call : calls) {
    std::vector<Sub*> launch;
    std::function<void()> after;
    {
      std::lock_guard<std::mutex> call_lock(call->mu);
      if (call->finished || call->unassigned.empty()) continue;
      const absl::Time now = absl::Now();
      if (now >= call->deadline) {
        after = FinishLocked(*call, call,
                             absl::DeadlineExceededError(absl::StrCat(
                                 "rollout request '", call->request_id,
                                 "' passed its deadline waiting for a rollout worker")));
      } else if (call->waiting_since != absl::InfiniteFuture() &&
                 now - call->waiting_since > options_.no_worker_timeout) {
        after = FinishLocked(
            *call, call,
            absl::UnavailableError(absl::StrCat(
                "no rollout worker alive for ", absl::FormatDuration(options_.no_worker_timeout),
                " (rollout.no_worker_timeout_s) among rollout.addresses: ", addresses)));
      } else {
        launch = AssignLocked(*call);
      }
    }
    if (after) after();
    Launch(call, launch);
  }
}

// ---- RolloutPool --------------------------------------------------------------------------

RolloutPool::RolloutPool(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RolloutPool::~RolloutPool() {
  impl_->Stop();
  impl_->WaitForSubCalls();
}

absl::StatusOr<std::unique_ptr<RolloutPool>> RolloutPool::Connect(const PoolOptions& options) {
  auto impl = std::make_shared<Impl>(options);
  PONDER_RETURN_IF_ERROR(impl->ConnectAll());
  impl->StartThreads();
  return std::unique_ptr<RolloutPool>(new RolloutPool(std::move(impl)));
}

absl::StatusOr<std::shared_ptr<GenerateCall>> RolloutPool::StartGenerate(
    GenerateRequest request, GenerateCallbacks callbacks) {
  return impl_->StartGenerate(std::move(request), std::move(callbacks));
}

absl::Status RolloutPool::UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) {
  return impl_->UpdateWeights(version, tensors);
}

absl::StatusOr<BackendStatus> RolloutPool::GetStatus() { return impl_->GetStatus(); }

std::vector<rpc::WorkerStatus> RolloutPool::Workers() const { return impl_->Workers(); }

PoolCounts RolloutPool::Counts() const { return impl_->Counts(); }

}  // namespace ponder::rollout
