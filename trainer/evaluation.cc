#include "trainer/evaluation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {

void EvalOptions::Bind(config::Binder& b) {
  b.Field("every", every).AtLeast(0);
  b.Field("before_train", before_train);
  b.Field("at_end", at_end);
  b.Field("k", k).AtLeast(1);
  b.Field("temperature", temperature).AtLeast(0.0);
  b.Field("greedy", greedy);
  b.Field("max_prompts", max_prompts).AtLeast(0);
  b.Field("max_new_tokens", max_new_tokens).AtLeast(0);
}

absl::StatusOr<double> PassAtK(int64_t n, int64_t c, int64_t k) {
  if (c < 0 || c > n || k < 1 || k > n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pass@k needs 0 <= c <= n and 1 <= k <= n (got n=", n, ", c=", c, ", k=", k, ")"));
  }
  if (n - c < k) return 1.0;  // every draw of k samples holds a correct one
  double all_wrong = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) {
    all_wrong *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  }
  return 1.0 - all_wrong;
}

bool IsCorrect(const reward::VerifyResult& result) {
  return result.correct.has_value() ? *result.correct : result.score > 0;
}

namespace {

// The request: k samples of each of the first `count` prompts (prompt index i), and a greedy
// answer of each (prompt index count + i). `prompt_texts` gets each prompt's text.
absl::StatusOr<rollout::GenerateRequest> EvalRequest(const EvalSet& set, const EvalOptions& options,
                                                     const EvalContext& context, uint64_t seed,
                                                     size_t count,
                                                     std::vector<std::string>* prompt_texts) {
  const int64_t max_new_tokens =
      options.max_new_tokens > 0 ? options.max_new_tokens : context.sampling.max_new_tokens;
  rollout::GenerateRequest request;
  request.request_id = absl::StrCat("eval-", set.name);
  prompt_texts->assign(count, "");
  for (size_t i = 0; i < count; ++i) {
    const PromptRecord& record = set.prompts[i];
    PONDER_ASSIGN_OR_RETURN((*prompt_texts)[i], context.encoder->PromptText(record));
    PONDER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, context.encoder->Encode(record));
    if (context.max_seq_len > 0 &&
        static_cast<int64_t>(ids.size()) + max_new_tokens > context.max_seq_len) {
      return absl::InvalidArgumentError(absl::StrCat(
          "eval prompt ", record.origin, " has ", ids.size(), " tokens; with max_new_tokens ",
          max_new_tokens, " it does not fit the context of ", context.max_seq_len,
          " tokens (lower rollout.sampling.max_new_tokens or eval.max_new_tokens)"));
    }
    rollout::SamplingOptions sampling = context.sampling;
    sampling.max_new_tokens = max_new_tokens;
    sampling.round_token_budget = 0;  // evaluation never pauses
    sampling.seed = seed;
    sampling.temperature = options.temperature;
    request.prompts.push_back({i, ids, static_cast<uint32_t>(options.k), sampling});
    if (options.greedy) {
      sampling.temperature = 0;
      request.prompts.push_back({count + i, std::move(ids), 1, sampling});
    }
  }
  return request;
}

// What the verifiers read of each trajectory (sorted by prompt, then sample).
absl::StatusOr<std::vector<reward::VerifyInput>> EvalItems(
    const EvalSet& set, const EvalContext& context, size_t count,
    const std::vector<std::string>& prompt_texts,
    const std::vector<rollout::Trajectory>& trajectories) {
  std::vector<reward::VerifyInput> items;
  items.reserve(trajectories.size());
  for (const rollout::Trajectory& t : trajectories) {
    if (t.finish_reason == rollout::FinishReason::kAborted ||
        t.finish_reason == rollout::FinishReason::kPaused) {
      return absl::InternalError(absl::StrCat("eval sample of prompt ", t.prompt_index,
                                              " came back ",
                                              rollout::FinishReasonName(t.finish_reason)));
    }
    const PromptRecord& record = set.prompts[t.prompt_index % count];
    PONDER_ASSIGN_OR_RETURN(std::string response, context.encoder->DecodeResponse(t.token_ids));
    items.push_back(
        {.prompt = prompt_texts[t.prompt_index % count],
         .response = std::move(response),
         .ground_truth = record.ground_truth,
         .metadata = record.extra_info.is_object() ? record.extra_info : nlohmann::json::object(),
         .data_source = record.data_source});
  }
  return items;
}

monitor::SampleRecord EvalSample(const std::string& set, const reward::VerifyInput& item,
                                 const rollout::Trajectory& t, bool greedy,
                                 const reward::ItemResult& r) {
  monitor::SampleRecord sample;
  sample.kind = monitor::SampleRecord::Kind::kEval;
  sample.set = set;
  sample.prompt = item.prompt;
  sample.response = item.response;
  sample.ground_truth = item.ground_truth;
  sample.greedy = greedy;
  sample.sample_index = t.sample_index;
  sample.finish_reason = rollout::FinishReasonName(t.finish_reason);
  sample.response_tokens = static_cast<int64_t>(t.token_ids.size());
  sample.weight_version = t.weight_version;
  if (r.status.ok()) {
    sample.score = r.result.score;
    sample.correct = IsCorrect(r.result);
    sample.details = r.result.details;
  } else {
    sample.error = std::string(r.status.message());
  }
  return sample;
}

// Counts over the scored samples of one evaluation.
struct EvalCounts {
  std::vector<int64_t> correct;  // per prompt, of its k samples
  int64_t greedy_correct = 0, sampled = 0, truncated = 0, errors = 0;
  std::vector<double> lengths, scores;
};

absl::Status Summarize(const std::string& name, const EvalOptions& options, const EvalCounts& c,
                       monitor::Metrics& m) {
  const size_t count = c.correct.size();
  const int64_t k = options.k;
  double mean_acc = 0, pass = 0;
  for (size_t i = 0; i < count; ++i) {
    mean_acc += static_cast<double>(c.correct[i]) / static_cast<double>(k);
    PONDER_ASSIGN_OR_RETURN(double p, PassAtK(k, c.correct[i], k));
    pass += p;
  }
  const std::string prefix = absl::StrCat("val/", name, "/");
  m[absl::StrCat(prefix, "mean@", k)] = mean_acc / static_cast<double>(count);
  m[absl::StrCat(prefix, "pass@", k)] = pass / static_cast<double>(count);
  if (options.greedy) {
    m[prefix + "greedy_acc"] = static_cast<double>(c.greedy_correct) / static_cast<double>(count);
  }
  monitor::AddMeanStd(m, prefix + "score", c.scores);
  monitor::AddSummary(m, prefix + "response_len", c.lengths);
  m[prefix + "truncation_rate"] =
      c.sampled > 0 ? static_cast<double>(c.truncated) / static_cast<double>(c.sampled) : 0.0;
  m[prefix + "reward_errors"] = static_cast<double>(c.errors);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EvalReport> Evaluate(const EvalSet& set, const EvalOptions& options,
                                    const EvalContext& context, uint64_t seed) {
  if (context.rollout == nullptr || context.reward == nullptr || context.encoder == nullptr) {
    return absl::InvalidArgumentError("Evaluate needs a rollout, a reward and an encoder");
  }
  const size_t count = options.max_prompts > 0
                           ? std::min<size_t>(set.prompts.size(), options.max_prompts)
                           : set.prompts.size();
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat("eval set '", set.name, "' has no prompts"));
  }
  std::vector<std::string> prompt_texts;
  PONDER_ASSIGN_OR_RETURN(rollout::GenerateRequest request,
                          EvalRequest(set, options, context, seed, count, &prompt_texts));
  PONDER_ASSIGN_OR_RETURN(std::vector<rollout::Trajectory> trajectories,
                          context.rollout->Generate(request));
  // Arrival order depends on lengths; sort so that samples and scores are reproducible.
  std::sort(trajectories.begin(), trajectories.end(), [](const auto& a, const auto& b) {
    return std::tie(a.prompt_index, a.sample_index) < std::tie(b.prompt_index, b.sample_index);
  });
  PONDER_ASSIGN_OR_RETURN(std::vector<reward::VerifyInput> items,
                          EvalItems(set, context, count, prompt_texts, trajectories));
  PONDER_ASSIGN_OR_RETURN(std::vector<reward::ItemResult> results,
                          context.reward->Score(items, {}));
  EvalCounts c;
  c.correct.assign(count, 0);
  EvalReport report;
  for (size_t j = 0; j < trajectories.size(); ++j) {
    const rollout::Trajectory& t = trajectories[j];
    const bool greedy = t.prompt_index >= count;
    const reward::ItemResult& r = results[j];
    const bool ok = r.status.ok();
    const bool is_correct = ok && IsCorrect(r.result);
    c.errors += ok ? 0 : 1;
    if (greedy) {
      c.greedy_correct += is_correct ? 1 : 0;
    } else {
      ++c.sampled;
      c.correct[t.prompt_index] += is_correct ? 1 : 0;
      c.lengths.push_back(static_cast<double>(t.token_ids.size()));
      c.scores.push_back(ok ? r.result.score : 0.0);
      c.truncated += t.finish_reason == rollout::FinishReason::kLength ? 1 : 0;
    }
    report.samples.push_back(EvalSample(set.name, items[j], t, greedy, r));
  }
  PONDER_RETURN_IF_ERROR(Summarize(set.name, options, c, report.metrics));
  return report;
}

}  // namespace ponder::trainer
