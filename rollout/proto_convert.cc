#include "rollout/proto_convert.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ponder::rollout {
namespace {

SamplingOptions SamplingFromProto(const v1::SamplingParams& p, const SamplingOptions& defaults) {
  SamplingOptions s;
  s.temperature = p.temperature();
  s.top_p = p.top_p() == 0 ? 1.0 : p.top_p();
  s.top_k = p.top_k();
  s.min_p = p.min_p();
  s.repetition_penalty = p.repetition_penalty() == 0 ? 1.0 : p.repetition_penalty();
  s.max_new_tokens = p.max_new_tokens() == 0 ? defaults.max_new_tokens : p.max_new_tokens();
  s.stop_token_ids.assign(p.stop_token_ids().begin(), p.stop_token_ids().end());
  s.stop_strings.assign(p.stop_strings().begin(), p.stop_strings().end());
  s.seed = p.seed();
  s.repeat_ngram = p.repeat_ngram();
  s.repeat_count = p.repeat_count();
  s.round_token_budget = p.round_token_budget();
  return s;
}

void SamplingToProto(const SamplingOptions& s, v1::SamplingParams* p) {
  p->set_temperature(static_cast<float>(s.temperature));
  p->set_top_p(static_cast<float>(s.top_p));
  p->set_top_k(static_cast<int32_t>(s.top_k));
  p->set_min_p(static_cast<float>(s.min_p));
  p->set_repetition_penalty(static_cast<float>(s.repetition_penalty));
  p->set_max_new_tokens(static_cast<int32_t>(s.max_new_tokens));
  for (int32_t id : s.stop_token_ids) p->add_stop_token_ids(id);
  for (const std::string& stop : s.stop_strings) p->add_stop_strings(stop);
  p->set_seed(s.seed);
  p->set_repeat_ngram(static_cast<int32_t>(s.repeat_ngram));
  p->set_repeat_count(static_cast<int32_t>(s.repeat_count));
  p->set_round_token_budget(static_cast<int32_t>(s.round_token_budget));
}

v1::FinishReason ReasonToProto(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kRepeat:
      return v1::FINISH_REASON_REPEAT;
    case FinishReason::kAborted:
      return v1::FINISH_REASON_ABORTED;
    case FinishReason::kPaused:
      return v1::FINISH_REASON_PAUSED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

FinishReason ReasonFromProto(v1::FinishReason r) {
  switch (r) {
    case v1::FINISH_REASON_STOP:
      return FinishReason::kStop;
    case v1::FINISH_REASON_LENGTH:
      return FinishReason::kLength;
    case v1::FINISH_REASON_REPEAT:
      return FinishReason::kRepeat;
    case v1::FINISH_REASON_PAUSED:
      return FinishReason::kPaused;
    default:
      return FinishReason::kAborted;
  }
}

}  // namespace

GenerateRequest FromProto(const v1::GenerateRequest& in, const SamplingOptions& defaults) {
  GenerateRequest out;
  out.request_id = in.request_id();
  out.return_text = in.return_text();
  out.resume_paused = in.resume_paused();
  if (in.has_expect_weight_version()) out.expect_weight_version = in.expect_weight_version();
  out.prompts.reserve(static_cast<size_t>(in.prompts_size()));
  for (const v1::PromptRequest& p : in.prompts()) {
    PromptRequest q;
    q.prompt_index = p.prompt_index();
    q.token_ids.assign(p.token_ids().begin(), p.token_ids().end());
    q.n = p.n();
    q.sampling = SamplingFromProto(p.sampling(), defaults);
    out.prompts.push_back(std::move(q));
  }
  return out;
}

void ToProto(const GenerateRequest& in, v1::GenerateRequest* out) {
  out->set_request_id(in.request_id);
  out->set_return_text(in.return_text);
  out->set_resume_paused(in.resume_paused);
  if (in.expect_weight_version) out->set_expect_weight_version(*in.expect_weight_version);
  for (const PromptRequest& p : in.prompts) {
    v1::PromptRequest* q = out->add_prompts();
    q->set_prompt_index(p.prompt_index);
    q->mutable_token_ids()->Add(p.token_ids.begin(), p.token_ids.end());
    q->set_n(p.n);
    SamplingToProto(p.sampling, q->mutable_sampling());
  }
}

Trajectory FromProto(const v1::Trajectory& in) {
  Trajectory t;
  t.prompt_index = in.prompt_index();
  t.sample_index = in.sample_index();
  t.token_ids.assign(in.token_ids().begin(), in.token_ids().end());
  t.logprobs.assign(in.logprobs().begin(), in.logprobs().end());
  t.finish_reason = ReasonFromProto(in.finish_reason());
  t.weight_version = in.weight_version();
  for (const v1::Segment& s : in.segments()) {
    t.segments.push_back({s.weight_version(), s.begin(), s.end()});
  }
  t.text = in.text();
  t.prompt_tokens = in.prompt_tokens();
  return t;
}

void ToProto(const Trajectory& in, v1::Trajectory* out) {
  out->set_prompt_index(in.prompt_index);
  out->set_sample_index(in.sample_index);
  out->mutable_token_ids()->Add(in.token_ids.begin(), in.token_ids.end());
  out->mutable_logprobs()->Add(in.logprobs.begin(), in.logprobs.end());
  out->set_finish_reason(ReasonToProto(in.finish_reason));
  out->set_weight_version(in.weight_version);
  for (const Segment& s : in.segments) {
    v1::Segment* seg = out->add_segments();
    seg->set_weight_version(s.weight_version);
    seg->set_begin(s.begin);
    seg->set_end(s.end);
  }
  out->set_text(in.text);
  out->set_prompt_tokens(in.prompt_tokens);
}

BackendStatus FromProto(const v1::RolloutStatus& in) {
  BackendStatus s;
  s.weight_version = in.weight_version();
  s.active_sequences = in.active_sequences();
  s.waiting_sequences = in.waiting_sequences();
  s.paused_sequences = in.paused_sequences();
  s.kv_cache_bytes_used = in.kv_cache_bytes_used();
  s.kv_cache_bytes_budget = in.kv_cache_bytes_budget();
  s.gen_tokens_per_s = in.gen_tokens_per_s();
  s.generated_tokens_total = in.generated_tokens_total();
  s.model = in.model();
  s.max_context = in.max_context();
  return s;
}

void ToProto(const BackendStatus& in, v1::RolloutStatus* out) {
  out->set_weight_version(in.weight_version);
  out->set_active_sequences(in.active_sequences);
  out->set_waiting_sequences(in.waiting_sequences);
  out->set_paused_sequences(in.paused_sequences);
  out->set_kv_cache_bytes_used(in.kv_cache_bytes_used);
  out->set_kv_cache_bytes_budget(in.kv_cache_bytes_budget);
  out->set_gen_tokens_per_s(in.gen_tokens_per_s);
  out->set_generated_tokens_total(in.generated_tokens_total);
  out->set_model(in.model);
  out->set_max_context(in.max_context);
}

absl::StatusOr<WeightDType> FromProto(v1::DType dtype, std::string_view tensor) {
  switch (dtype) {
    case v1::DTYPE_F32:
      return WeightDType::kF32;
    case v1::DTYPE_F16:
      return WeightDType::kF16;
    case v1::DTYPE_BF16:
      return WeightDType::kBF16;
    case v1::DTYPE_F64:
      return WeightDType::kF64;
    default:
      return absl::InvalidArgumentError(absl::StrCat("UpdateWeights: tensor '", std::string(tensor),
                                                     "' has dtype ", v1::DType_Name(dtype),
                                                     "; weights must be F32, F16, BF16 or F64"));
  }
}

v1::DType ToProto(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::kF32:
      return v1::DTYPE_F32;
    case WeightDType::kF16:
      return v1::DTYPE_F16;
    case WeightDType::kBF16:
      return v1::DTYPE_BF16;
    case WeightDType::kF64:
      return v1::DTYPE_F64;
  }
  return v1::DTYPE_UNSPECIFIED;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(static_cast<int>(status.error_code())),
                      status.error_message());
}

}  // namespace ponder::rollout
