// A RolloutBackend without a model, for tests of what surrounds generation (the rollout
// service, the worker pool): each sample is made after `delay` on a thread of its own, its
// tokens say who made it (prompt, sample, weight version, seed bits), and the backend keeps
// a log of what it was asked to do. A sample can be held (never finishes until cancelled),
// and the backend's weight version starts where the test says.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rollout/rollout.h"

namespace ponder::rollout::testing {

class FakeBackend : public RolloutBackend {
 public:
  explicit FakeBackend(int64_t version = 0, std::chrono::milliseconds delay = {})
      : version_(version), delay_(delay) {}
  ~FakeBackend() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (std::thread& t : threads) t.join();
  }

  // Samples of prompts with this index (all when -1) never finish until cancelled.
  void Hold(int64_t prompt_index) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = prompt_index;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = -2;
    cv_.notify_all();
  }

  absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(
      GenerateRequest request, GenerateCallbacks callbacks) override {
    auto call = std::make_shared<Call>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(absl::StrCat("generate v", version_, " prompts ", request.prompts.size()));
      for (const PromptRequest& p : request.prompts) generated_prompts_.push_back(p.prompt_index);
      threads_.emplace_back(
          [this, request = std::move(request), callbacks, call] { Run(request, callbacks, call); });
    }
    return std::shared_ptr<GenerateCall>(call);
  }

  absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (version <= version_) {
      return absl::InvalidArgumentError(
          absl::StrCat("version ", version, " is not above ", version_));
    }
    version_ = version;
    last_tensors_ = tensors.size();
    if (!tensors.empty()) first_byte_ = *static_cast<const unsigned char*>(tensors[0].data);
    log_.push_back(absl::StrCat("update v", version));
    return absl::OkStatus();
  }

  absl::StatusOr<BackendStatus> GetStatus() override {
    std::lock_guard<std::mutex> lock(mu_);
    BackendStatus s;
    s.weight_version = version_;
    s.kv_cache_bytes_budget = 1 << 20;
    s.max_context = 64;
    s.model = "fake";
    return s;
  }

  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  std::vector<uint64_t> generated_prompts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return generated_prompts_;
  }
  int64_t version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }
  unsigned char first_byte() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_byte_;
  }

 private:
  struct Call : GenerateCall {
    std::atomic<bool> cancelled{false};
    void Cancel() override { cancelled = true; }
  };

  void Run(const GenerateRequest& request, const GenerateCallbacks& callbacks,
           const std::shared_ptr<Call>& call) {
    bool cancelled = false;
    for (const PromptRequest& p : request.prompts) {
      for (uint32_t s = 0; s < p.n; ++s) {
        std::unique_lock<std::mutex> lock(mu_);
        auto held = [&] { return hold_ == -1 || hold_ == static_cast<int64_t>(p.prompt_index); };
        if (held()) {
          while (!stopping_ && !call->cancelled && held()) {
            cv_.wait_for(lock, std::chrono::milliseconds(5));
          }
        } else if (delay_.count() > 0) {
          cv_.wait_for(lock, delay_, [&] { return stopping_ || call->cancelled.load(); });
        }
        cancelled = cancelled || stopping_ || call->cancelled;
        Trajectory t;
        t.prompt_index = p.prompt_index;
        t.sample_index = s;
        t.weight_version = version_;
        t.token_ids = {static_cast<int32_t>(p.prompt_index), static_cast<int32_t>(s),
                       static_cast<int32_t>(version_),
                       static_cast<int32_t>(p.sampling.seed % 1000)};
        t.logprobs.assign(t.token_ids.size(), -1.0f);
        t.segments = {{version_, 0, static_cast<uint32_t>(t.token_ids.size())}};
        t.finish_reason = cancelled ? FinishReason::kAborted : FinishReason::kStop;
        lock.unlock();
        if (callbacks.on_trajectory) callbacks.on_trajectory(std::move(t));
      }
    }
    if (callbacks.on_done) {
      callbacks.on_done(cancelled ? absl::CancelledError("cancelled") : absl::OkStatus());
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t version_;
  std::chrono::milliseconds delay_;
  int64_t hold_ = -2;
  bool stopping_ = false;
  size_t last_tensors_ = 0;
  unsigned char first_byte_ = 0;
  std::vector<std::string> log_;
  std::vector<uint64_t> generated_prompts_;
  std::vector<std::thread> threads_;
};

}  // namespace ponder::rollout::testing
