// Rollout: generating samples from the current policy for RL.
//
// A RolloutBackend takes prompts (token ids) with sampling parameters and `n`, and streams
// back one Trajectory per sample as each finishes: the generated tokens, the behaviour
// policy's log-prob of each (of the distribution actually sampled from), the finish reason
// and which weight version made which tokens. Two implementations give identical
// trajectories for the same seeds:
//   - RolloutEngine (rollout/engine.h): the in-process engine (continuous batching over a KV
//     cache), which can run on a Decoder the trainer owns;
//   - GrpcRolloutBackend (rollout/grpc_backend.h): a client of a remote RolloutService
//     (`ponder rollout --listen HOST:PORT`).
//
//   GenerateRequest request;
//   request.prompts.push_back({.prompt_index = 0, .token_ids = ids, .n = 8, .sampling = s});
//   PONDER_ASSIGN_OR_RETURN(std::vector<Trajectory> out, backend.Generate(request));
//
// These types are plain C++ (no LibTorch, no protobuf), so callers stay cheap to compile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rollout/rollout_options.h"

namespace ponder::rollout {

enum class FinishReason {
  kStop,     // a stop token or stop string
  kLength,   // max_new_tokens or the context limit
  kRepeat,   // a repeated n-gram (SamplingOptions::repeat_ngram / repeat_count)
  kAborted,  // cancelled, past its deadline, or the engine shut down
  kPaused,   // partial rollout: the round's token budget is spent; resumes in a later round
};
// "stop", "length", "repeat", "aborted", "paused".
const char* FinishReasonName(FinishReason reason);

struct PromptRequest {
  uint64_t prompt_index = 0;  // the caller's index, echoed in each trajectory
  std::vector<int32_t> token_ids;
  uint32_t n = 1;  // samples; they share the prompt's prefill
  SamplingOptions sampling;
};

struct GenerateRequest {
  std::string request_id;
  std::vector<PromptRequest> prompts;
  bool return_text = false;  // decode the generated tokens to text (needs a tokenizer)
  // Also resume every paused partial rollout waiting in the backend's store (with the
  // current weights); their trajectories come back on this request.
  bool resume_paused = false;
  // Past it, unfinished samples come back as kAborted and the call ends DEADLINE_EXCEEDED.
  absl::Time deadline = absl::InfiniteFuture();
  // Remote workers: the weight version the worker must hold when the call starts
  // (FAILED_PRECONDITION otherwise; RolloutService checks it).
  std::optional<int64_t> expect_weight_version;
};

// A run of generated tokens made by one weight version: token_ids[begin, end).
struct Segment {
  int64_t weight_version = 0;
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const Segment& o) const {
    return weight_version == o.weight_version && begin == o.begin && end == o.end;
  }
};

struct Trajectory {
  uint64_t prompt_index = 0;
  uint32_t sample_index = 0;
  std::vector<int32_t> token_ids;  // generated tokens only (over all rounds)
  std::vector<float> logprobs;     // behaviour log-prob of each generated token
  FinishReason finish_reason = FinishReason::kAborted;
  int64_t weight_version = 0;  // the version that made the last token
  std::vector<Segment> segments;
  std::string text;  // when GenerateRequest::return_text
  uint32_t prompt_tokens = 0;
};

// What a backend reports about itself (RolloutService.GetStatus).
struct BackendStatus {
  int64_t weight_version = 0;
  uint32_t active_sequences = 0;   // holding a KV slot
  uint32_t waiting_sequences = 0;  // queued for a slot
  uint32_t paused_sequences = 0;   // partial rollouts in the store
  uint64_t kv_cache_bytes_used = 0;
  uint64_t kv_cache_bytes_budget = 0;
  double gen_tokens_per_s = 0;  // over the last few seconds
  uint64_t generated_tokens_total = 0;
  std::string model;
  uint32_t max_context = 0;
};

// Element types of weights on the host and on the wire.
enum class WeightDType { kF32, kF16, kBF16, kF64 };
size_t WeightDTypeSize(WeightDType dtype);
const char* WeightDTypeName(WeightDType dtype);

// A named tensor in host memory (row-major, contiguous). `data` is borrowed; `owner`, when
// set, keeps it alive (e.g. a received buffer).
struct WeightTensor {
  std::string name;  // the parameter's name, e.g. "model.layers.0.mlp.up_proj.weight"
  WeightDType dtype = WeightDType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t bytes = 0;
  std::shared_ptr<const void> owner;
};

// Callbacks of one StartGenerate call. They run on a backend thread, one at a time, and must
// return quickly (queue heavier work elsewhere). Every sample of the request is delivered
// exactly once (finished, paused or aborted) before on_done.
struct GenerateCallbacks {
  std::function<void(Trajectory)> on_trajectory;
  std::function<void(absl::Status)> on_done;  // last call: OK, CANCELLED, DEADLINE_EXCEEDED ...
};

// A running StartGenerate call.
class GenerateCall {
 public:
  virtual ~GenerateCall() = default;
  // Aborts the call: its samples come back as kAborted (resumed partial rollouts go back to
  // the store as kPaused), their KV slots are freed, and on_done gets CANCELLED. A call that
  // has already finished is left alone.
  virtual void Cancel() = 0;
};

class RolloutBackend {
 public:
  virtual ~RolloutBackend() = default;

  // Validates and queues `request`; a bad request is an InvalidArgument naming the prompt and
  // field, and then no callback runs.
  virtual absl::StatusOr<std::shared_ptr<GenerateCall>> StartGenerate(
      GenerateRequest request, GenerateCallbacks callbacks) = 0;

  // Replaces the weights with `tensors` (every parameter of the model, by name) and sets the
  // weight version, between two decode steps: running sequences continue with the new
  // weights and their next tokens carry `version`. `version` must be greater than the current
  // one. Nothing changes unless every tensor matches a parameter in name and shape.
  virtual absl::Status UpdateWeights(int64_t version, const std::vector<WeightTensor>& tensors) = 0;

  virtual absl::StatusOr<BackendStatus> GetStatus() = 0;

  // Blocking forms of StartGenerate. This one calls `sink` on the calling thread as each
  // trajectory arrives and returns the call's final status.
  absl::Status Generate(const GenerateRequest& request,
                        const std::function<void(Trajectory)>& sink);
  // This one collects the trajectories (in arrival order); an error drops them.
  absl::StatusOr<std::vector<Trajectory>> Generate(const GenerateRequest& request);
};

// Checks a request against what a backend can run: InvalidArgument naming the prompt index
// and the field for an empty prompt, n = 0, token ids outside [0, vocab_size), sampling
// fields out of range, or a prompt plus max_new_tokens longer than max_seq_len; stop strings
// or return_text without a tokenizer.
struct RequestLimits {
  int64_t vocab_size = 0;
  int64_t max_seq_len = 0;
  bool has_tokenizer = false;
};
absl::Status ValidateRequest(const GenerateRequest& request, const RequestLimits& limits);

// The segments of a sequence of per-token versions (one segment per run of equal versions).
std::vector<Segment> SegmentsFromVersions(const std::vector<int64_t>& versions);

}  // namespace ponder::rollout
