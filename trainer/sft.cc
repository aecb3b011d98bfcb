#include "trainer/sft.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "monitor/metrics.h"
#include "monitor/sink_factory.h"
#include "reward/reward_backend.h"
#include "rollout/engine.h"
#include "trainer/builtin_task.h"
#include "trainer/evaluation.h"
#include "trainer/job_config.h"
#include "trainer/model_setup.h"
#include "trainer/optimizer.h"
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {
namespace fs = std::filesystem;

SftOptions::SftOptions() {
  steps = 300;
  lr = 1e-3;
  betas = {0.9, 0.98};
  weight_decay = 0.0;
  lr_warmup_steps = 20;
}

void SftOptions::Bind(config::Binder& b) {
  BindOptimizerKeys(b);
  b.Renamed("warmup_steps", "lr_warmup_steps", "sft: takes the optimizer keys of trainer:");
  b.Field("batch_size", batch_size).AtLeast(1);
  b.Field("max_tokens_per_row", max_tokens_per_row).AtLeast(0);
  b.Field("style", style)
      .Must(style == "answer" || style == "chain_of_thought",
            "be answer or chain_of_thought (got '" + style + "')");
  b.Field("response_key", response_key).NotEmpty();
  b.Field("eval_every", eval_every).AtLeast(0);
  b.Field("stop_at_accuracy", stop_at_accuracy).InRange(0.0, 1.0);
  b.Field("output", output);
}

absl::Status SftOptions::Validate() const { return ValidateOptimizerKeys(); }

namespace {

struct Demonstration {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> response_ids;  // ends with EOS when the tokenizer has one
  std::string origin;
  size_t size() const { return prompt_ids.size() + response_ids.size(); }
};

absl::StatusOr<Demonstration> Tokenize(const PromptEncoder& encoder, const PromptRecord& record,
                                       const std::string& response) {
  Demonstration demo;
  demo.origin = record.origin;
  PONDER_ASSIGN_OR_RETURN(demo.prompt_ids, encoder.Encode(record));
  absl::StatusOr<std::vector<int32_t>> ids =
      encoder.tokenizer().Encode(response, {.add_eos = true});
  if (!ids.ok()) return Annotate(ids.status(), absl::StrCat("response of ", record.origin));
  demo.response_ids = std::move(*ids);
  if (demo.response_ids.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("response of ", record.origin, " is empty"));
  }
  return demo;
}

// The response text of a JSONL row, following a dotted key.
absl::StatusOr<std::string> ResponseField(const std::string& line, const std::string& key,
                                          const std::string& where) {
  nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(where, ": not JSON"));
  const nlohmann::json* node = &row;
  for (absl::string_view part : absl::StrSplit(key, '.')) {
    if (!node->is_object() || !node->contains(std::string(part))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no '", key, "' field (sft.response_key)"));
    }
    node = &(*node)[std::string(part)];
  }
  if (!node->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": '", key, "' is not a string"));
  }
  return node->get<std::string>();
}

absl::StatusOr<std::vector<Demonstration>> LoadJsonlDemonstrations(const JobConfig& job,
                                                                   const PromptEncoder& encoder,
                                                                   int64_t* skipped) {
  std::vector<Demonstration> out;
  for (const std::string& path : job.data.train_files) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = absl::StrCat(path, ":", number);
      absl::StatusOr<Demonstration> demo = [&]() -> absl::StatusOr<Demonstration> {
        PONDER_ASSIGN_OR_RETURN(PromptRecord record,
                                PromptDataset::ParseRow(line, job.data.format, where));
        record.origin = where;
        PONDER_ASSIGN_OR_RETURN(std::string response,
                                ResponseField(line, job.sft.response_key, where));
        return Tokenize(encoder, record, response);
      }();
      if (demo.ok()) {
        out.push_back(std::move(*demo));
      } else if (job.data.format.on_bad_line == BadLinePolicy::kSkip) {
        spdlog::warn("skipping {}", std::string(demo.status().message()));
        ++*skipped;
      } else {
        return demo.status();
      }
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("sft: no demonstrations in data.train_files");
  return out;
}

// A packed batch: rows of demonstrations, each attending only to itself.
struct Batch {
  at::Tensor ids, mask, segments, positions, targets;  // [rows, width]
  int64_t target_tokens = 0;
  int64_t tokens = 0;
};

absl::StatusOr<Batch> Pack(const std::vector<const Demonstration*>& demos,
                           int64_t max_tokens_per_row) {
  std::vector<std::vector<const Demonstration*>> rows;
  int64_t width = 0;
  for (const Demonstration* d : demos) {
    const auto size = static_cast<int64_t>(d->size());
    if (max_tokens_per_row > 0 && size > max_tokens_per_row) {
      return absl::InvalidArgumentError(absl::StrCat("demonstration ", d->origin, " has ", size,
                                                     " tokens, more than sft.max_tokens_per_row (",
                                                     max_tokens_per_row, ")"));
    }
    int64_t used = 0;
    if (!rows.empty()) {
      for (const Demonstration* e : rows.back()) used += static_cast<int64_t>(e->size());
    }
    if (rows.empty() || max_tokens_per_row == 0 || used + size > max_tokens_per_row) {
      rows.push_back({d});
      used = 0;
    } else {
      rows.back().push_back(d);
    }
    width = std::max(width, used + size);
  }
  const auto num_rows = static_cast<int64_t>(rows.size());
  Batch b;
  b.ids = at::zeros({num_rows, width}, at::kLong);
  b.mask = at::zeros({num_rows, width}, at::kLong);
  b.segments = at::zeros({num_rows, width}, at::kLong);
  b.positions = at::zeros({num_rows, width}, at::kLong);
  b.targets = at::full({num_rows, width}, -1, at::kLong);
  auto ids = b.ids.accessor<int64_t, 2>();
  auto mask = b.mask.accessor<int64_t, 2>();
  auto segments = b.segments.accessor<int64_t, 2>();
  auto positions = b.positions.accessor<int64_t, 2>();
  auto targets = b.targets.accessor<int64_t, 2>();
  for (int64_t r = 0; r < num_rows; ++r) {
    int64_t col = 0;
    for (size_t s = 0; s < rows[r].size(); ++s) {
      const Demonstration& d = *rows[r][s];
      std::vector<int32_t> seq = d.prompt_ids;
      seq.insert(seq.end(), d.response_ids.begin(), d.response_ids.end());
      for (size_t j = 0; j < seq.size(); ++j, ++col) {
        ids[r][col] = seq[j];
        mask[r][col] = 1;
        segments[r][col] = static_cast<int64_t>(s) + 1;
        positions[r][col] = static_cast<int64_t>(j);
        // Position j predicts token j+1; only response tokens are trained.
        if (j + 1 < seq.size() && j + 1 >= d.prompt_ids.size()) {
          targets[r][col] = seq[j + 1];
          ++b.target_tokens;
        }
      }
      b.tokens += static_cast<int64_t>(seq.size());
    }
  }
  return b;
}

// Where the demonstrations come from: a built-in task's worked solutions, generated per step,
// or JSONL rows, drawn in shuffled epochs.
class DemonstrationSource {
 public:
  absl::Status Load(const JobConfig& job, const PromptEncoder& encoder, std::mt19937_64& rng) {
    if (!job.data.task.name.empty()) {
      PONDER_ASSIGN_OR_RETURN(task_, MakeBuiltinTask(job.data.task));
      PONDER_ASSIGN_OR_RETURN(splits_, GenerateTaskSplits(*task_, job.data.task));
    } else {
      PONDER_ASSIGN_OR_RETURN(jsonl_, LoadJsonlDemonstrations(job, encoder, &skipped_));
      if (!job.data.val_files.empty()) {
        PONDER_ASSIGN_OR_RETURN(splits_.val,
                                PromptDataset::LoadJsonlFiles(job.data.val_files, job.data.format));
      }
    }
    style_ = job.sft.style == "chain_of_thought" ? DemonstrationStyle::kChainOfThought
                                                 : DemonstrationStyle::kAnswer;
    order_.resize(jsonl_.size());
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::shuffle(order_.begin(), order_.end(), rng);
    return absl::OkStatus();
  }

  // The next `count` demonstrations (valid until the next call).
  absl::StatusOr<std::vector<const Demonstration*>> Next(int64_t count,
                                                         const PromptEncoder& encoder,
                                                         std::mt19937_64& rng) {
    std::vector<const Demonstration*> demos;
    fresh_.clear();
    if (task_) {
      std::uniform_int_distribution<size_t> pick(0, splits_.train.size() - 1);
      for (int64_t i = 0; i < count; ++i) {
        const PromptRecord& record = splits_.train[pick(rng)];
        PONDER_ASSIGN_OR_RETURN(std::string response, task_->Demonstrate(record, style_, rng));
        PONDER_ASSIGN_OR_RETURN(Demonstration demo, Tokenize(encoder, record, response));
        fresh_.push_back(std::move(demo));
      }
      for (const Demonstration& d : fresh_) demos.push_back(&d);
      return demos;
    }
    for (int64_t i = 0; i < count; ++i) {
      if (cursor_ == order_.size()) {  // next epoch
        std::shuffle(order_.begin(), order_.end(), rng);
        cursor_ = 0;
      }
      demos.push_back(&jsonl_[order_[cursor_++]]);
    }
    return demos;
  }

  // The held-out prompts, and the name of their metrics.
  const PromptDataset& val() const { return splits_.val; }
  std::string EvalName(const JobConfig& job) const {
    return task_ ? task_->name() : fs::path(job.data.val_files.front()).stem().string();
  }
  int64_t skipped() const { return skipped_; }

 private:
  std::unique_ptr<BuiltinTask> task_;
  TaskSplits splits_;
  std::vector<Demonstration> jsonl_;
  std::vector<Demonstration> fresh_;
  std::vector<size_t> order_;
  size_t cursor_ = 0;
  int64_t skipped_ = 0;
  DemonstrationStyle style_ = DemonstrationStyle::kAnswer;
};

// Greedy accuracy on the held-out prompts, generated by the in-process engine on the model
// being trained (no copy).
class SftEvaluator {
 public:
  absl::Status Start(const JobConfig& job, model::Decoder& model, const JobTokenizer& tokenizer,
                     const DemonstrationSource& source) {
    set_.name = source.EvalName(job);
    set_.prompts = source.val();
    PONDER_ASSIGN_OR_RETURN(
        engine_,
        rollout::RolloutEngine::Create(model.ptr(), rollout::EngineOptions::FromConfig(job.rollout),
                                       tokenizer.tokenizer));
    PONDER_ASSIGN_OR_RETURN(reward_, reward::MakeRewardBackend(job.reward));
    sampling_ = job.rollout.sampling;
    for (int32_t id : tokenizer.encoder.stop_token_ids()) sampling_.stop_token_ids.push_back(id);
    return absl::OkStatus();
  }
  bool started() const { return engine_ != nullptr; }

  // Evaluates after step `step`, writes the metrics; the greedy accuracy.
  absl::StatusOr<double> Run(const JobConfig& job, const PromptEncoder& encoder, int64_t step,
                             monitor::MetricsSink& sink, bool progress) {
    EvalContext context{.rollout = engine_.get(),
                        .reward = reward_.get(),
                        .encoder = &encoder,
                        .sampling = sampling_,
                        .max_seq_len = engine_->max_seq_len()};
    torch::NoGradGuard no_grad;
    PONDER_ASSIGN_OR_RETURN(EvalReport report,
                            Evaluate(set_, job.eval, context, job.run.seed + step));
    PONDER_RETURN_IF_ERROR(sink.Write(step, report.metrics));
    const double accuracy = report.metrics[absl::StrCat("val/", set_.name, "/greedy_acc")];
    if (progress) {
      std::fprintf(stderr, "eval  step %lld | greedy_acc %.3f | mean@%lld %.3f\n",
                   static_cast<long long>(step), accuracy, static_cast<long long>(job.eval.k),
                   report.metrics[absl::StrCat("val/", set_.name, "/mean@", job.eval.k)]);
    }
    return accuracy;
  }

 private:
  EvalSet set_;
  std::unique_ptr<rollout::RolloutEngine> engine_;
  std::unique_ptr<reward::RewardBackend> reward_;
  rollout::SamplingOptions sampling_;
};

struct SftStepResult {
  double loss = 0;
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;
};

// Optimizer step `step` (0-based) on `batch`: the mean NLL of its response tokens.
absl::StatusOr<SftStepResult> TrainStep(const JobConfig& job, model::Decoder& model,
                                        OptimizerStep& optimizer, const Batch& batch,
                                        int64_t step) {
  model->train();
  SftStepResult out;
  out.lr = optimizer.ScheduleFor(step);
  out.tokens = batch.tokens;
  optimizer.ClearGrads();
  model::BatchLayout layout{
      .attention_mask = batch.mask, .segment_ids = batch.segments, .position_ids = batch.positions};
  PONDER_ASSIGN_OR_RETURN(at::Tensor hidden, model->Hidden(batch.ids, layout));
  PONDER_ASSIGN_OR_RETURN(
      model::TokenStats stats,
      model->TokenLogProbs(hidden, batch.targets,
                           {.entropy = false,
                            .chunk_tokens = job.model.logits_chunk_tokens,
                            .keep_logits_bytes = job.model.logits_keep_mb << 20}));
  at::Tensor trained = batch.targets.ge(0).to(stats.log_probs.scalar_type());
  at::Tensor loss = -(stats.log_probs * trained).sum() /
                    static_cast<double>(std::max<int64_t>(batch.target_tokens, 1));
  loss.backward();
  out.loss = loss.item<double>();
  out.grad_norm = optimizer.Step(std::isfinite(out.loss));
  return out;
}

// The trainable parameters of `model`.
std::vector<at::Tensor> TrainableParameters(model::Decoder& model) {
  std::vector<at::Tensor> params;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  return params;
}

// Writes the metrics of step `step` (1-based) and, every 10 steps, a progress line.
absl::Status ReportStep(const SftOptions& o, int64_t step, const SftStepResult& r,
                        const DemonstrationSource& source, const OptimizerStep& optimizer,
                        double seconds, double elapsed, monitor::MetricsSink& sink, bool progress) {
  const auto tokens = static_cast<double>(r.tokens);
  monitor::Metrics m{{"sft/loss", r.loss},
                     {"sft/lr", r.lr},
                     {"sft/grad_norm", r.grad_norm},
                     {"sft/tokens", tokens},
                     {"sft/skipped_lines", static_cast<double>(source.skipped())},
                     {"sft/skipped_steps", static_cast<double>(optimizer.skipped())},
                     {"perf/train_tokens_per_s", tokens / seconds},
                     {"timing/step_s", seconds}};
  PONDER_RETURN_IF_ERROR(sink.Write(step, m));
  if (progress && (step % 10 == 0 || step == 1)) {
    std::fprintf(stderr, "sft step %lld/%lld | loss %.4f | lr %.2e | %.2f s/step\n",
                 static_cast<long long>(step), static_cast<long long>(o.steps), r.loss, r.lr,
                 elapsed / static_cast<double>(step));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SftResult> RunSft(const JobConfig& job, const SftRunOptions& options) {
  const SftOptions& o = job.sft;
  const bool progress = options.progress;
  if (job.run.threads > 0) at::set_num_threads(static_cast<int>(job.run.threads));
  torch::manual_seed(job.run.seed);
  std::mt19937_64 rng(static_cast<uint64_t>(job.run.seed));

  PONDER_ASSIGN_OR_RETURN(JobTokenizer tokenizer, LoadJobTokenizer(job.model));
  const PromptEncoder& encoder = tokenizer.encoder;
  DemonstrationSource source;
  PONDER_RETURN_IF_ERROR(source.Load(job, encoder, rng));
  PONDER_ASSIGN_OR_RETURN(model::Decoder model,
                          LoadTrainedModel(job.model, tokenizer.tokenizer->vocab_size()));
  OptimizerStep optimizer(TrainableParameters(model), o, o.lr, "sft");
  SftEvaluator evaluator;
  if (!source.val().empty()) PONDER_RETURN_IF_ERROR(evaluator.Start(job, model, tokenizer, source));
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<monitor::MetricsSink> sink,
                          monitor::MakeMetricsSink(job.monitor, job.run.dir));
  PONDER_RETURN_IF_ERROR(file::WriteFileAtomically((fs::path(job.run.dir) / "config.yaml").string(),
                                                   config::ToYaml(job)));

  SftResult result;
  const auto started = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    PONDER_ASSIGN_OR_RETURN(std::vector<const Demonstration*> demos,
                            source.Next(o.batch_size, encoder, rng));
    PONDER_ASSIGN_OR_RETURN(Batch batch, Pack(demos, o.max_tokens_per_row));
    PONDER_ASSIGN_OR_RETURN(SftStepResult trained, TrainStep(job, model, optimizer, batch, step));
    result.steps = step + 1;
    const auto now = std::chrono::steady_clock::now();
    PONDER_RETURN_IF_ERROR(ReportStep(o, step + 1, trained, source, optimizer,
                                      std::chrono::duration<double>(now - step_start).count(),
                                      std::chrono::duration<double>(now - started).count(), *sink,
                                      progress));
    const bool last = step + 1 == o.steps ||
                      (options.stop_requested != nullptr && options.stop_requested->load());
    if (evaluator.started() && ((o.eval_every > 0 && (step + 1) % o.eval_every == 0) || last)) {
      PONDER_ASSIGN_OR_RETURN(result.greedy_accuracy,
                              evaluator.Run(job, encoder, step + 1, *sink, progress));
      if (o.stop_at_accuracy > 0 && result.greedy_accuracy >= o.stop_at_accuracy) {
        spdlog::info("sft: held-out greedy accuracy {:.3f} reached sft.stop_at_accuracy {:.3f}",
                     result.greedy_accuracy, o.stop_at_accuracy);
        break;
      }
    }
    if (last) break;
  }

  model->eval();
  result.output = o.output.empty() ? (fs::path(job.run.dir) / "final").string() : o.output;
  PONDER_RETURN_IF_ERROR(SaveModelFolder(model, result.output, tokenizer.source));
  spdlog::info("sft: wrote {}", result.output);
  return result;
}

}  // namespace ponder::trainer
