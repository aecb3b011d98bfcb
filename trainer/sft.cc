#include "trainer/sft.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
#include "trainer/prompt_encoder.h"

namespace ponder::trainer {
namespace fs = std::filesystem;

void SftOptions::Bind(config::Binder& b) {
  b.Field("steps", steps).AtLeast(1);
  b.Field("batch_size", batch_size).AtLeast(1);
  b.Field("max_tokens_per_row", max_tokens_per_row).AtLeast(0);
  b.Field("lr", lr).GreaterThan(0.0);
  b.Field("betas", betas).Must(betas.size() == 2, "hold two numbers, e.g. [0.9, 0.98]");
  b.Field("weight_decay", weight_decay).AtLeast(0.0);
  b.Field("warmup_steps", warmup_steps).AtLeast(0);
  b.Field("grad_clip", grad_clip).AtLeast(0.0);
  b.Field("style", style)
      .Must(style == "answer" || style == "chain_of_thought",
            "be answer or chain_of_thought (got '" + style + "')");
  b.Field("response_key", response_key).NotEmpty();
  b.Field("eval_every", eval_every).AtLeast(0);
  b.Field("stop_at_accuracy", stop_at_accuracy).InRange(0.0, 1.0);
  b.Field("output", output);
}

absl::Status SftOptions::Validate() const {
  for (double beta : betas) {
    if (!(beta >= 0 && beta < 1)) {
      return absl::InvalidArgumentError(absl::StrCat("betas must be in [0, 1) (got ", beta, ")"));
    }
  }
  return absl::OkStatus();
}

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

double LearningRate(const SftOptions& o, int64_t step) {
  if (o.warmup_steps > 0 && step < o.warmup_steps) {
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  return o.lr;
}

}  // namespace

absl::StatusOr<SftResult> RunSft(const JobConfig& job, bool progress) {
  const SftOptions& o = job.sft;
  if (job.run.threads > 0) at::set_num_threads(static_cast<int>(job.run.threads));
  torch::manual_seed(job.run.seed);
  std::mt19937_64 rng(static_cast<uint64_t>(job.run.seed));

  PONDER_ASSIGN_OR_RETURN(JobTokenizer loaded, LoadJobTokenizer(job.model));
  const std::string& tokenizer_source = loaded.source;
  const std::shared_ptr<const model::Tokenizer>& tokenizer = loaded.tokenizer;
  const PromptEncoder& encoder = loaded.encoder;

  // Demonstrations: a built-in task's worked solutions, generated per step, or JSONL rows.
  std::unique_ptr<BuiltinTask> task;
  TaskSplits splits;
  std::vector<Demonstration> jsonl;
  int64_t skipped = 0;
  if (!job.data.task.name.empty()) {
    PONDER_ASSIGN_OR_RETURN(task, MakeBuiltinTask(job.data.task));
    PONDER_ASSIGN_OR_RETURN(splits, GenerateTaskSplits(*task, job.data.task));
  } else {
    PONDER_ASSIGN_OR_RETURN(jsonl, LoadJsonlDemonstrations(job, encoder, &skipped));
    if (!job.data.val_files.empty()) {
      PONDER_ASSIGN_OR_RETURN(splits.val,
                              PromptDataset::LoadJsonlFiles(job.data.val_files, job.data.format));
    }
  }
  const DemonstrationStyle style = o.style == "chain_of_thought"
                                       ? DemonstrationStyle::kChainOfThought
                                       : DemonstrationStyle::kAnswer;

  PONDER_ASSIGN_OR_RETURN(model::Decoder model,
                          LoadPolicyModel(job.model, tokenizer->vocab_size()));
  std::vector<at::Tensor> params;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(o.lr)
                                            .betas({o.betas[0], o.betas[1]})
                                            .weight_decay(o.weight_decay));

  // Evaluation generates with the in-process engine on the model being trained (no copy).
  std::unique_ptr<rollout::RolloutEngine> engine;
  std::unique_ptr<reward::RewardBackend> reward;
  EvalSet eval_set;
  if (!splits.val.empty()) {
    PONDER_ASSIGN_OR_RETURN(
        engine, rollout::RolloutEngine::Create(
                    model.ptr(), rollout::EngineOptions::FromConfig(job.rollout), tokenizer));
    PONDER_ASSIGN_OR_RETURN(reward, reward::MakeRewardBackend(job.reward));
    eval_set.name = task ? task->name() : fs::path(job.data.val_files.front()).stem().string();
    eval_set.prompts = splits.val;
  }
  rollout::SamplingOptions sampling = job.rollout.sampling;
  for (int32_t id : encoder.stop_token_ids()) sampling.stop_token_ids.push_back(id);

  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<monitor::MetricsSink> sink,
                          monitor::MakeMetricsSink(job.monitor, job.run.dir));
  {
    std::ofstream out(fs::path(job.run.dir) / "config.yaml", std::ios::trunc);
    out << config::ToYaml(job);
  }

  SftResult result;
  auto evaluate = [&](int64_t step) -> absl::StatusOr<double> {
    EvalContext context{.rollout = engine.get(),
                        .reward = reward.get(),
                        .encoder = &encoder,
                        .sampling = sampling,
                        .max_seq_len = engine->max_seq_len()};
    torch::NoGradGuard no_grad;
    PONDER_ASSIGN_OR_RETURN(EvalReport report,
                            Evaluate(eval_set, job.eval, context, job.run.seed + step));
    PONDER_RETURN_IF_ERROR(sink->Write(step, report.metrics));
    const double accuracy = report.metrics[absl::StrCat("val/", eval_set.name, "/greedy_acc")];
    if (progress) {
      std::fprintf(stderr, "eval  step %lld | greedy_acc %.3f | mean@%lld %.3f\n",
                   static_cast<long long>(step), accuracy, static_cast<long long>(job.eval.k),
                   report.metrics[absl::StrCat("val/", eval_set.name, "/mean@", job.eval.k)]);
    }
    return accuracy;
  };

  size_t cursor = 0;
  std::vector<size_t> order(jsonl.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const auto started = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    // This step's demonstrations.
    std::vector<Demonstration> fresh;
    std::vector<const Demonstration*> demos;
    if (task) {
      std::uniform_int_distribution<size_t> pick(0, splits.train.size() - 1);
      for (int64_t i = 0; i < o.batch_size; ++i) {
        const PromptRecord& record = splits.train[pick(rng)];
        PONDER_ASSIGN_OR_RETURN(std::string response, task->Demonstrate(record, style, rng));
        PONDER_ASSIGN_OR_RETURN(Demonstration demo, Tokenize(encoder, record, response));
        fresh.push_back(std::move(demo));
      }
      for (const Demonstration& d : fresh) demos.push_back(&d);
    } else {
      for (int64_t i = 0; i < o.batch_size; ++i) {
        if (cursor == order.size()) {  // next epoch
          std::shuffle(order.begin(), order.end(), rng);
          cursor = 0;
        }
        demos.push_back(&jsonl[order[cursor++]]);
      }
    }
    PONDER_ASSIGN_OR_RETURN(Batch batch, Pack(demos, o.max_tokens_per_row));

    const double lr = LearningRate(o, step);
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    model->train();
    optimizer.zero_grad();
    model::BatchLayout layout{.attention_mask = batch.mask,
                              .segment_ids = batch.segments,
                              .position_ids = batch.positions};
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
    double grad_norm = 0;
    if (o.grad_clip > 0) {
      grad_norm = torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
    }
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value) || !std::isfinite(grad_norm)) {
      spdlog::warn("sft step {}: non-finite loss or gradient; step skipped", step + 1);
      optimizer.zero_grad();
    } else {
      optimizer.step();
    }
    result.steps = step + 1;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    monitor::Metrics m{{"sft/loss", loss_value},
                       {"sft/lr", lr},
                       {"sft/grad_norm", grad_norm},
                       {"sft/tokens", static_cast<double>(batch.tokens)},
                       {"sft/skipped_lines", static_cast<double>(skipped)},
                       {"perf/train_tokens_per_s", static_cast<double>(batch.tokens) / seconds},
                       {"timing/step_s", seconds}};
    PONDER_RETURN_IF_ERROR(sink->Write(step + 1, m));
    if (progress && ((step + 1) % 10 == 0 || step == 0)) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "sft step %lld/%lld | loss %.4f | lr %.2e | %.2f s/step\n",
                   static_cast<long long>(step + 1), static_cast<long long>(o.steps), loss_value,
                   lr, elapsed / static_cast<double>(step + 1));
    }
    const bool last = step + 1 == o.steps;
    if (engine != nullptr && ((o.eval_every > 0 && (step + 1) % o.eval_every == 0) || last)) {
      PONDER_ASSIGN_OR_RETURN(result.greedy_accuracy, evaluate(step + 1));
      if (o.stop_at_accuracy > 0 && result.greedy_accuracy >= o.stop_at_accuracy) {
        spdlog::info("sft: held-out greedy accuracy {:.3f} reached sft.stop_at_accuracy {:.3f}",
                     result.greedy_accuracy, o.stop_at_accuracy);
        break;
      }
    }
  }

  model->eval();
  result.output = o.output.empty() ? (fs::path(job.run.dir) / "final").string() : o.output;
  PONDER_RETURN_IF_ERROR(SaveModelFolder(model, result.output, tokenizer_source));
  spdlog::info("sft: wrote {}", result.output);
  return result;
}

}  // namespace ponder::trainer
