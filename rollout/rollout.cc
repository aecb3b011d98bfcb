#include "rollout/rollout.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ponder::rollout {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kRepeat:
      return "repeat";
    case FinishReason::kAborted:
      return "aborted";
    case FinishReason::kPaused:
      return "paused";
  }
  return "?";
}

size_t WeightDTypeSize(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::kF32:
      return 4;
    case WeightDType::kF16:
    case WeightDType::kBF16:
      return 2;
    case WeightDType::kF64:
      return 8;
  }
  return 0;
}

const char* WeightDTypeName(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::kF32:
      return "float32";
    case WeightDType::kF16:
      return "float16";
    case WeightDType::kBF16:
      return "bfloat16";
    case WeightDType::kF64:
      return "float64";
  }
  return "?";
}

absl::Status RolloutBackend::Generate(const GenerateRequest& request,
                                      const std::function<void(Trajectory)>& sink) {
  // The backend's callbacks only queue; the sink runs here, on the caller's thread.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Trajectory> queue;
    std::optional<absl::Status> done;
  };
  auto shared = std::make_shared<Shared>();
  GenerateCallbacks callbacks;
  callbacks.on_trajectory = [shared](Trajectory t) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->queue.push_back(std::move(t));
    shared->cv.notify_all();
  };
  callbacks.on_done = [shared](absl::Status status) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->done = std::move(status);
    shared->cv.notify_all();
  };
  absl::StatusOr<std::shared_ptr<GenerateCall>> call = StartGenerate(request, callbacks);
  if (!call.ok()) return call.status();
  std::unique_lock<std::mutex> lock(shared->mu);
  while (true) {
    shared->cv.wait(lock, [&] { return !shared->queue.empty() || shared->done.has_value(); });
    while (!shared->queue.empty()) {
      Trajectory t = std::move(shared->queue.front());
      shared->queue.pop_front();
      lock.unlock();
      sink(std::move(t));
      lock.lock();
    }
    if (shared->done.has_value() && shared->queue.empty()) return *shared->done;
  }
}

absl::StatusOr<std::vector<Trajectory>> RolloutBackend::Generate(const GenerateRequest& request) {
  std::vector<Trajectory> out;
  absl::Status status = Generate(request, [&out](Trajectory t) { out.push_back(std::move(t)); });
  if (!status.ok()) return status;
  return out;
}

absl::Status ValidateRequest(const GenerateRequest& request, const RequestLimits& limits) {
  if (request.prompts.empty() && !request.resume_paused) {
    return absl::InvalidArgumentError(
        "the request has no prompts (and does not ask to resume paused rollouts)");
  }
  if (request.return_text && !limits.has_tokenizer) {
    return absl::InvalidArgumentError(
        "return_text needs a tokenizer, and this backend was started without one");
  }
  std::unordered_set<uint64_t> indices;
  for (size_t i = 0; i < request.prompts.size(); ++i) {
    const PromptRequest& p = request.prompts[i];
    const std::string where = absl::StrCat("prompts[", i, "] (prompt_index ", p.prompt_index, ")");
    if (!indices.insert(p.prompt_index).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": prompt_index appears more than once in the request"));
    }
    if (p.token_ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the prompt is empty"));
    }
    if (p.n == 0) return absl::InvalidArgumentError(absl::StrCat(where, ": n must be >= 1"));
    for (size_t t = 0; t < p.token_ids.size(); ++t) {
      const int32_t id = p.token_ids[t];
      if (id < 0 || id >= limits.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": token_ids[", t, "] = ", id,
                                                       " is outside the vocabulary [0, ",
                                                       limits.vocab_size, ")"));
      }
    }
    const std::string problem = p.sampling.FirstProblem();
    if (!problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": sampling.", problem));
    }
    for (int32_t id : p.sampling.stop_token_ids) {
      if (id >= limits.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": sampling.stop_token_ids holds ",
                                                       id, ", outside the vocabulary [0, ",
                                                       limits.vocab_size, ")"));
      }
    }
    if (!p.sampling.stop_strings.empty() && !limits.has_tokenizer) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": sampling.stop_strings need a tokenizer, and this backend has none"));
    }
    const int64_t need = static_cast<int64_t>(p.token_ids.size()) + p.sampling.max_new_tokens;
    if (need > limits.max_seq_len) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", p.token_ids.size(), " prompt tokens + max_new_tokens ",
                       p.sampling.max_new_tokens, " = ", need, " exceed the context of ",
                       limits.max_seq_len, " tokens"));
    }
  }
  return absl::OkStatus();
}

std::vector<Segment> SegmentsFromVersions(const std::vector<int64_t>& versions) {
  std::vector<Segment> out;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (out.empty() || out.back().weight_version != versions[i]) {
      out.push_back({versions[i], static_cast<uint32_t>(i), static_cast<uint32_t>(i)});
    }
    out.back().end = static_cast<uint32_t>(i + 1);
  }
  return out;
}

}  // namespace ponder::rollout
