#include "trainer/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "trainer/distributed.h"

namespace ponder::trainer {

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> params;    // indexes into `params`
    std::vector<int64_t> offsets;  // of each parameter's gradient in `flat`
    int64_t numel = 0;             // gradient elements; one 0/1 flag per parameter follows
    at::Tensor flat;
    int64_t waiting = 0;  // parameters whose gradient this backward has not produced yet
    std::optional<RankGroup::Pending> pending;
  };

  RankGroup* group = nullptr;
  std::string name;
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of;  // parameter -> bucket
  std::vector<Bucket> buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hooks;

  std::mutex mu;
  bool armed = false;
  std::vector<bool> ready;  // per parameter, in the armed backward
  size_t next = 0;          // the next bucket to start: buckets start in order on every rank
  int64_t started_armed = 0;
  int64_t last_started_armed = 0;
  absl::Status error;  // a start that failed inside a hook, reported by Finish

  std::string What(size_t b) const {
    return absl::StrCat("gradients of the ", name, " (bucket ", b + 1, " of ", buckets.size(), ")");
  }

  // Copies the bucket's gradients (zeros where a parameter has none) and their flags into
  // its buffer and starts the sum.
  void Start(size_t b) {
    Bucket& bucket = buckets[b];
    std::vector<float> flags(bucket.params.size(), 0.0f);
    for (size_t j = 0; j < bucket.params.size(); ++j) {
      const at::Tensor& p = params[bucket.params[j]];
      at::Tensor slot = bucket.flat.narrow(0, bucket.offsets[j], p.numel());
      if (p.grad().defined()) {
        slot.copy_(p.grad().reshape(-1));
        flags[j] = 1.0f;
      } else {
        slot.zero_();
      }
    }
    bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(flags.size()))
        .copy_(at::tensor(flags, at::kFloat));
    if (!error.ok()) return;
    auto pending = group->StartAllReduceSum(bucket.flat, What(b));
    if (!pending.ok()) {
      error = pending.status();
      return;
    }
    bucket.pending.emplace(std::move(*pending));
  }

  // Starts, in order, every bucket whose gradients are all ready.
  void StartReady() {
    while (next < buckets.size() && buckets[next].waiting == 0) {
      Start(next++);
      if (armed) ++started_armed;
    }
  }

  void OnGradient(size_t param) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed || ready[param]) return;
    ready[param] = true;
    --buckets[bucket_of[param]].waiting;
    StartReady();
  }

  void Reset() {
    armed = false;
    next = 0;
    std::fill(ready.begin(), ready.end(), false);
    for (Bucket& bucket : buckets) {
      bucket.waiting = static_cast<int64_t>(bucket.params.size());
      bucket.pending.reset();
    }
    error = absl::OkStatus();
  }
};

GradientReducer::GradientReducer(RankGroup* group, const std::vector<at::Tensor>& parameters,
                                 int64_t bucket_bytes, std::string name)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.group = group;
  s.name = std::move(name);
  s.params = parameters;
  s.bucket_of.resize(parameters.size());
  s.ready.assign(parameters.size(), false);
  // Reverse order; a bucket holds one dtype and device and at most bucket_bytes (or one
  // parameter larger than that).
  int64_t bytes = 0;
  for (size_t i = parameters.size(); i-- > 0;) {
    const at::Tensor& p = parameters[i];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !s.buckets.empty() && bytes + size <= bucket_bytes &&
                      s.buckets.back().flat.scalar_type() == p.scalar_type() &&
                      s.buckets.back().flat.device() == p.device();
    if (!fits) {
      s.buckets.emplace_back();
      s.buckets.back().flat = at::empty({0}, p.options());
      bytes = 0;
    }
    State::Bucket& bucket = s.buckets.back();
    bucket.params.push_back(i);
    bucket.offsets.push_back(bucket.numel);
    bucket.numel += p.numel();
    bytes += size;
    s.bucket_of[i] = s.buckets.size() - 1;
  }
  for (State::Bucket& bucket : s.buckets) {
    bucket.flat = at::empty({bucket.numel + static_cast<int64_t>(bucket.params.size())},
                            bucket.flat.options());
    bucket.waiting = static_cast<int64_t>(bucket.params.size());
  }
  // A hook after each parameter's gradient accumulator: the parameter's .grad is then final
  // for this backward. The accumulators are kept alive so that the hooks stay attached.
  State* raw = state_.get();
  for (size_t i = 0; i < parameters.size(); ++i) {
    std::shared_ptr<torch::autograd::Node> accumulator =
        torch::autograd::impl::grad_accumulator(parameters[i]);
    s.hooks.push_back(
        accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [raw, i](const torch::autograd::variable_list& outputs,
                     const torch::autograd::variable_list&) {
              raw->OnGradient(i);
              return outputs;
            })));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < state_->accumulators.size(); ++i) {
    state_->accumulators[i]->del_post_hook(state_->hooks[i]);
  }
}

void GradientReducer::Arm() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->Reset();
  state_->armed = true;
  state_->started_armed = 0;
}

absl::Status GradientReducer::Finish() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  s.last_started_armed = s.armed ? s.started_armed : 0;
  s.armed = false;
  while (s.next < s.buckets.size()) s.Start(s.next++);
  absl::Status status = s.error;
  for (State::Bucket& bucket : s.buckets) {
    if (!status.ok()) break;
    if (bucket.pending) status = s.group->Wait(*bucket.pending);
  }
  if (status.ok()) {
    for (State::Bucket& bucket : s.buckets) {
      const at::Tensor flags =
          bucket.flat.narrow(0, bucket.numel, static_cast<int64_t>(bucket.params.size()))
              .to(at::kCPU, at::kFloat);
      const float* flag = flags.data_ptr<float>();
      for (size_t j = 0; j < bucket.params.size(); ++j) {
        at::Tensor& p = s.params[bucket.params[j]];
        if (flag[j] <= 0.5f) continue;  // no rank had a gradient for it
        const at::Tensor sum = bucket.flat.narrow(0, bucket.offsets[j], p.numel()).view_as(p);
        if (p.grad().defined()) {
          p.mutable_grad().copy_(sum);
        } else {
          p.mutable_grad() = sum.clone();
        }
      }
    }
  }
  s.Reset();
  return status;
}

int64_t GradientReducer::num_buckets() const {
  return static_cast<int64_t>(state_->buckets.size());
}

int64_t GradientReducer::started_during_backward() const { return state_->last_started_armed; }

}  // namespace ponder::trainer
