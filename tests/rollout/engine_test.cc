// The rollout engine on small random models (and on llama2.c's stories260K): determinism
// regardless of batch composition, log-probs equal to the trainer path's, partial rollouts,
// weight updates under load, cancellation, deadlines and bad requests. The paged KV cache's
// scheduling (budget, sharing, preemption) is in paged_engine_test.cc.
#include "rollout/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/synchronization/notification.h"
#include "model/decoder.h"
#include "tests/rollout/engine_test_util.h"
#include "tests/rollout/tiny_model.h"
#include "tests/testing.h"

namespace ponder::rollout {
namespace {

using testing::ByKey;
using testing::Collector;
using testing::Engine;
using testing::ExpectSameSamples;
using ::testing::HasSubstr;
using testing::Key;
using testing::Model;
using testing::Options;
using testing::Prompt;
using testing::Request;
using testing::Resume;
using testing::RunAll;
using testing::Sampling;

// ---- Determinism -------------------------------------------------------------------------

TEST(EngineTest, SameSeedSameTokensAloneOrInABusyBatch) {
  auto model = Model(1);
  SamplingOptions nucleus = Sampling(42, 40, 1.0);
  nucleus.top_p = 0.9;
  SamplingOptions greedy = Sampling(0, 30, 0.0);
  GenerateRequest target = Request({Prompt(100, 5, 3, nucleus), Prompt(101, 9, 1, greedy)});

  auto alone = Engine(model, Options(8));
  std::map<Key, Trajectory> want = ByKey(RunAll(*alone, target));
  ASSERT_EQ(want.size(), 4u);

  // A second engine, busy with other work, small steps (chunked prefill mixed with decoding)
  // and more slots: the target joins mid-stream.
  EngineOptions busy_options = Options(16);
  busy_options.max_step_tokens = 7;
  auto busy = Engine(model, busy_options);
  std::vector<std::unique_ptr<Collector>> background;
  for (int i = 0; i < 6; ++i) {
    background.push_back(std::make_unique<Collector>());
    auto call =
        busy->StartGenerate(Request({Prompt(i, 3 + 5 * i, 2, Sampling(1000 + i, 20 + 10 * i))}),
                            background.back()->Callbacks());
    ASSERT_TRUE(call.ok()) << call.status();
  }
  while (busy->counters().steps < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::map<Key, Trajectory> got = ByKey(RunAll(*busy, target));
  for (auto& b : background) {
    b->done.WaitForNotification();
    EXPECT_TRUE(b->status.ok()) << b->status;
  }
  EXPECT_GT(busy->counters().peak_running, 4);  // it really was a shared batch
  ASSERT_EQ(got.size(), 4u);
  for (const auto& [key, t] : want) ExpectSameSamples(t, got.at(key));
  // Different samples of one prompt differ.
  EXPECT_NE(want.at({100, 0}).token_ids, want.at({100, 1}).token_ids);
}

// ---- Log-probs -----------------------------------------------------------------------------

TEST(EngineTest, BehaviourLogProbsEqualTheTrainerPath) {
  auto model = Model(2);
  auto engine = Engine(model, Options(8));
  for (double temperature : {1.0, 0.7}) {
    GenerateRequest r = Request({Prompt(1, 6, 4, Sampling(3, 30, temperature))});
    for (const Trajectory& t : RunAll(*engine, r)) {
      const std::vector<int32_t>& prompt = r.prompts[0].token_ids;
      std::vector<float> want =
          testing::TrainerLogProbs(model, prompt, t.token_ids, static_cast<float>(temperature));
      ASSERT_EQ(want.size(), t.logprobs.size());
      double max_diff = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(double(want[i]) - t.logprobs[i]));
      }
      EXPECT_LT(max_diff, 1e-4) << "temperature " << temperature;
      // Not trivially uniform: the model has real preferences.
      EXPECT_GT(
          *std::max_element(want.begin(), want.end()) - *std::min_element(want.begin(), want.end()),
          1.0);
    }
  }
  // Greedy: the log-prob under the untempered distribution.
  GenerateRequest r = Request({Prompt(2, 4, 1, Sampling(0, 20, 0.0))});
  Trajectory g = RunAll(*engine, r)[0];
  std::vector<float> want =
      testing::TrainerLogProbs(model, r.prompts[0].token_ids, g.token_ids, 1.0);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g.logprobs[i], want[i], 1e-4);
  // Top-k: renormalised over the k kept tokens.
  SamplingOptions topk = Sampling(5, 25, 0.7);
  topk.top_k = 5;
  r = Request({Prompt(3, 5, 2, topk)});
  for (const Trajectory& t : RunAll(*engine, r)) {
    std::vector<float> ref = testing::TopKLogProbs(model, r.prompts[0].token_ids, t.token_ids,
                                                   static_cast<float>(0.7), 5);
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(t.logprobs[i], ref[i], 1e-4) << i;
  }
}

// ---- Scheduling ----------------------------------------------------------------------------

TEST(EngineTest, SamplesOfAPromptShareOnePrefill) {
  auto model = Model(1);
  auto engine = Engine(model, Options(8));
  std::vector<Trajectory> out = RunAll(*engine, Request({Prompt(0, 10, 4, Sampling(1, 12))}));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(engine->counters().prefill_tokens, 10);
  EXPECT_EQ(engine->counters().decode_tokens, 4 * 12);
  // With two slots the four samples are admitted in two groups: two prefills.
  auto small = Engine(model, Options(2));
  std::map<Key, Trajectory> two =
      ByKey(RunAll(*small, Request({Prompt(0, 10, 4, Sampling(1, 12))})));
  EXPECT_EQ(small->counters().prefill_tokens, 20);
  for (const auto& [key, t] : ByKey(out)) ExpectSameSamples(t, two.at(key));
}

TEST(EngineTest, FinishReasonsStopAndLength) {
  auto model = Model(4);
  auto engine = Engine(model, Options(4));
  Trajectory free_run = RunAll(*engine, Request({Prompt(0, 5, 1, Sampling(9, 30))}))[0];
  ASSERT_EQ(free_run.token_ids.size(), 30u);
  EXPECT_EQ(free_run.finish_reason, FinishReason::kLength);
  const int32_t stop = free_run.token_ids[10];
  const size_t first = std::find(free_run.token_ids.begin(), free_run.token_ids.end(), stop) -
                       free_run.token_ids.begin();
  SamplingOptions s = Sampling(9, 30);
  s.stop_token_ids = {stop};
  Trajectory stopped = RunAll(*engine, Request({Prompt(0, 5, 1, s)}))[0];
  EXPECT_EQ(stopped.finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped.token_ids, std::vector<int32_t>(free_run.token_ids.begin(),
                                                    free_run.token_ids.begin() + first + 1));
  // Repetition: with a 1-gram repeated twice, the sample ends at its first doubled token.
  s = Sampling(0, 100, 0.0);
  Trajectory greedy = RunAll(*engine, Request({Prompt(1, 3, 1, s)}))[0];
  size_t doubled = 0;
  while (doubled + 1 < greedy.token_ids.size() &&
         greedy.token_ids[doubled] != greedy.token_ids[doubled + 1]) {
    ++doubled;
  }
  s.repeat_ngram = 1;
  s.repeat_count = 2;
  Trajectory repeat = RunAll(*engine, Request({Prompt(1, 3, 1, s)}))[0];
  if (doubled + 1 < greedy.token_ids.size()) {
    EXPECT_EQ(repeat.finish_reason, FinishReason::kRepeat);
    EXPECT_EQ(repeat.token_ids.size(), doubled + 2);
  } else {
    EXPECT_EQ(repeat.finish_reason, FinishReason::kLength);
  }
}

// ---- Cancellation, deadlines, bad requests -----------------------------------------------

TEST(EngineTest, CancelFreesTheSlots) {
  auto model = Model(1);
  auto engine = Engine(model, Options(4));
  Collector c;
  auto call = engine->StartGenerate(Request({Prompt(0, 4, 4, Sampling(1, 120))}), c.Callbacks());
  ASSERT_TRUE(call.ok());
  while (engine->counters().decode_tokens < 8)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  (*call)->Cancel();
  c.done.WaitForNotification();
  EXPECT_TRUE(absl::IsCancelled(c.status)) << c.status;
  ASSERT_EQ(c.trajectories.size(), 4u);
  for (const Trajectory& t : c.trajectories) {
    EXPECT_EQ(t.finish_reason, FinishReason::kAborted);
    EXPECT_GE(t.token_ids.size(), 2u);
    EXPECT_LT(t.token_ids.size(), 120u);
    EXPECT_EQ(t.logprobs.size(), t.token_ids.size());
  }
  BackendStatus status = *engine->GetStatus();
  EXPECT_EQ(status.active_sequences, 0u);
  EXPECT_EQ(status.kv_cache_bytes_used, 0u);
  // The slots serve the next request.
  EXPECT_EQ(RunAll(*engine, Request({Prompt(1, 4, 4, Sampling(1, 5))})).size(), 4u);
  (*call)->Cancel();  // after the end: nothing happens
}

TEST(EngineTest, DeadlineAbortsMidGenerationAndFreesTheSlots) {
  // Enough work (32 samples x 1000 tokens, several seconds) that the deadline comes first.
  testing::TinyModelOptions big;
  big.hidden = 128;
  big.intermediate = 256;
  big.layers = 4;
  big.max_positions = 1024;
  auto engine = Engine(MakeTinyModel(1, big), Options(32, 1024));
  GenerateRequest r = Request({Prompt(0, 4, 32, Sampling(1, 1000))});
  r.deadline = absl::Now() + absl::Milliseconds(100);
  Collector c;
  ASSERT_TRUE(engine->StartGenerate(r, c.Callbacks()).ok());
  c.done.WaitForNotification();
  EXPECT_TRUE(absl::IsDeadlineExceeded(c.status)) << c.status;
  ASSERT_EQ(c.trajectories.size(), 32u);
  size_t tokens = 0;
  for (const Trajectory& t : c.trajectories) {
    EXPECT_EQ(t.finish_reason, FinishReason::kAborted);
    tokens += t.token_ids.size();
  }
  EXPECT_GT(tokens, 0u);
  EXPECT_EQ(engine->GetStatus()->active_sequences, 0u);
  // Already expired: nothing runs.
  r.deadline = absl::Now() - absl::Seconds(1);
  Collector late;
  ASSERT_TRUE(engine->StartGenerate(r, late.Callbacks()).ok());
  late.done.WaitForNotification();
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.status));
  for (const Trajectory& t : late.trajectories) EXPECT_TRUE(t.token_ids.empty());
}

TEST(EngineTest, BadRequestsAreInvalidArgumentsWithAMessage) {
  auto engine = Engine(Model(1), Options(4));
  auto problem = [&](const GenerateRequest& r) {
    Collector c;
    absl::StatusOr<std::shared_ptr<GenerateCall>> call = engine->StartGenerate(r, c.Callbacks());
    EXPECT_FALSE(call.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(call.status())) << call.status();
    return std::string(call.status().message());
  };
  GenerateRequest r = Request({Prompt(3, 4, 1, Sampling(1, 10))});
  r.prompts[0].token_ids[2] = 96;
  EXPECT_THAT(problem(r), HasSubstr("token_ids[2] = 96 is outside the vocabulary [0, 96)"));
  r = Request({Prompt(3, 4, 1, Sampling(1, 10))});
  r.prompts[0].token_ids.clear();
  EXPECT_THAT(problem(r), HasSubstr("the prompt is empty"));
  r = Request({Prompt(3, 4, 0, Sampling(1, 10))});
  EXPECT_THAT(problem(r), HasSubstr("n must be >= 1"));
  r = Request({Prompt(3, 4, 1, Sampling(1, 125))});
  EXPECT_THAT(problem(r), HasSubstr("4 prompt tokens + max_new_tokens 125 = 129 exceed the "
                                    "context of 128 tokens"));
  r = Request({Prompt(3, 4, 1, Sampling(1, 10))});
  r.prompts[0].sampling.stop_strings = {"x"};
  EXPECT_THAT(problem(r), HasSubstr("need a tokenizer"));
  EXPECT_EQ(engine->counters().steps, 0);  // nothing ran
}

// ---- Partial rollouts ----------------------------------------------------------------------

TEST(EngineTest, ThreeRoundsEqualOneUninterruptedRound) {
  auto model = Model(3);
  SamplingOptions s = Sampling(5, 20, 1.0);
  std::map<Key, Trajectory> whole =
      ByKey(RunAll(*Engine(model, Options(4)), Request({Prompt(7, 6, 2, s)})));

  s.round_token_budget = 8;
  auto engine = Engine(model, Options(4));
  std::map<Key, Trajectory> r1 = ByKey(RunAll(*engine, Request({Prompt(7, 6, 2, s)})));
  ASSERT_EQ(r1.size(), 2u);
  for (const auto& [key, t] : r1) {
    EXPECT_EQ(t.finish_reason, FinishReason::kPaused);
    ASSERT_EQ(t.token_ids.size(), 8u);
    EXPECT_EQ(t.token_ids, std::vector<int32_t>(whole.at(key).token_ids.begin(),
                                                whole.at(key).token_ids.begin() + 8));
  }
  EXPECT_EQ(engine->GetStatus()->paused_sequences, 2u);
  // A new request may not reuse a prompt_index whose samples are paused.
  absl::StatusOr<std::shared_ptr<GenerateCall>> clash =
      engine->StartGenerate(Request({Prompt(7, 3, 1, s)}), {});
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), HasSubstr("prompt_index 7 has paused partial rollouts"));

  std::map<Key, Trajectory> r2 = ByKey(RunAll(*engine, Resume()));
  for (const auto& [key, t] : r2) {
    EXPECT_EQ(t.finish_reason, FinishReason::kPaused);
    EXPECT_EQ(t.token_ids.size(), 16u);
  }
  std::map<Key, Trajectory> r3 = ByKey(RunAll(*engine, Resume()));
  ASSERT_EQ(r3.size(), 2u);
  for (const auto& [key, t] : r3) {
    ExpectSameSamples(whole.at(key), t, 1e-4);
    EXPECT_EQ(t.segments, (std::vector<Segment>{{0, 0, 20}}));
  }
  EXPECT_EQ(engine->GetStatus()->paused_sequences, 0u);
  EXPECT_TRUE(RunAll(*engine, Resume()).empty());  // nothing left to resume
}

TEST(EngineTest, PartialRolloutsRecordTheVersionOfEachRound) {
  auto model = Model(3), v1 = Model(11), v2 = Model(12);  // references for each version
  SamplingOptions s = Sampling(5, 20, 1.0);
  s.round_token_budget = 8;
  auto engine = Engine(Model(3), Options(4));  // its own copy: updates overwrite it
  GenerateRequest first = Request({Prompt(7, 6, 2, s)});
  RunAll(*engine, first);
  ASSERT_TRUE(engine->UpdateWeights(1, testing::WeightsOf(v1)).ok());
  RunAll(*engine, Resume());
  ASSERT_TRUE(engine->UpdateWeights(2, testing::WeightsOf(v2)).ok());
  std::vector<Trajectory> done = RunAll(*engine, Resume());
  ASSERT_EQ(done.size(), 2u);
  const std::vector<int32_t>& prompt = first.prompts[0].token_ids;
  for (const Trajectory& t : done) {
    EXPECT_EQ(t.finish_reason, FinishReason::kLength);
    EXPECT_EQ(t.segments, (std::vector<Segment>{{0, 0, 8}, {1, 8, 16}, {2, 16, 20}}));
    EXPECT_EQ(t.weight_version, 2);
    // Each round re-feeds the context under its own weights, so every token's log-prob is
    // that of its version's model on the full prefix.
    const std::shared_ptr<model::DecoderImpl> models[] = {model, v1, v2};
    for (const Segment& seg : t.segments) {
      std::vector<float> want =
          testing::TrainerLogProbs(models[seg.weight_version], prompt, t.token_ids, 1.0);
      for (uint32_t i = seg.begin; i < seg.end; ++i) {
        EXPECT_NEAR(t.logprobs[i], want[i], 1e-4) << "token " << i;
      }
    }
  }
}

TEST(EngineTest, PausedRolloutsSurviveARestart) {
  auto model = Model(3);
  SamplingOptions s = Sampling(5, 20, 0.8);
  std::map<Key, Trajectory> whole =
      ByKey(RunAll(*Engine(model, Options(4)), Request({Prompt(7, 6, 2, s)})));
  char tmpl[] = "/tmp/ponder_engine_store_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  EngineOptions o = Options(4);
  o.partial_store_dir = dir;
  s.round_token_budget = 12;
  {
    auto engine = Engine(model, o);
    for (const Trajectory& t : RunAll(*engine, Request({Prompt(7, 6, 2, s)}))) {
      EXPECT_EQ(t.finish_reason, FinishReason::kPaused);
    }
  }  // the worker stops
  auto restarted = Engine(model, o);
  EXPECT_EQ(restarted->GetStatus()->paused_sequences, 2u);
  std::map<Key, Trajectory> done = ByKey(RunAll(*restarted, Resume()));
  ASSERT_EQ(done.size(), 2u);
  for (const auto& [key, t] : whole) ExpectSameSamples(t, done.at(key), 1e-4);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

// ---- Weights -------------------------------------------------------------------------------

TEST(EngineTest, UpdateWeightsUnderLoad) {
  auto model = Model(1), next = Model(21);
  auto engine = Engine(model, Options(8));
  Collector c;
  std::atomic<bool> updated{false};
  std::vector<bool> after;
  GenerateCallbacks callbacks = c.Callbacks();
  auto on_trajectory = callbacks.on_trajectory;
  callbacks.on_trajectory = [&, on_trajectory](Trajectory t) {
    {
      std::lock_guard<std::mutex> lock(c.mu);
      after.push_back(updated.load());
    }
    on_trajectory(std::move(t));
  };
  std::vector<PromptRequest> prompts;
  for (int i = 0; i < 8; ++i) prompts.push_back(Prompt(i, 4 + i, 2, Sampling(i, 30 + 10 * i)));
  ASSERT_TRUE(engine->StartGenerate(Request(prompts), callbacks).ok());
  while (engine->counters().decode_tokens < 40)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_TRUE(engine->UpdateWeights(1, testing::WeightsOf(next)).ok());
  updated = true;
  c.done.WaitForNotification();
  EXPECT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.trajectories.size(), 16u);
  int straddling = 0;
  for (size_t i = 0; i < c.trajectories.size(); ++i) {
    const Trajectory& t = c.trajectories[i];
    EXPECT_EQ(t.finish_reason, FinishReason::kLength);
    ASSERT_FALSE(t.segments.empty());
    EXPECT_EQ(t.segments.front().begin, 0u);
    EXPECT_EQ(t.segments.back().end, t.token_ids.size());
    for (size_t k = 1; k < t.segments.size(); ++k) {
      EXPECT_LT(t.segments[k - 1].weight_version, t.segments[k].weight_version);
    }
    if (after[i]) {
      EXPECT_EQ(t.weight_version, 1);  // finished after the swap
    }
    if (t.segments.size() == 2) ++straddling;
  }
  EXPECT_GT(straddling, 0);
  EXPECT_EQ(engine->weight_version(), 1);
}

TEST(EngineTest, UpdatedWeightsGenerateLikeAFreshEngineAndBadUpdatesChangeNothing) {
  auto a = Model(1), b = Model(2);
  GenerateRequest r = Request({Prompt(0, 5, 2, Sampling(3, 16))});
  std::map<Key, Trajectory> from_a = ByKey(RunAll(*Engine(a, Options(4)), r));
  std::map<Key, Trajectory> from_b = ByKey(RunAll(*Engine(b, Options(4)), r));
  auto engine = Engine(testing::MakeTinyModel(1), Options(4));

  std::vector<WeightTensor> w = testing::WeightsOf(b);
  std::vector<WeightTensor> missing(w.begin() + 1, w.end());
  absl::Status s = engine->UpdateWeights(1, missing);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("an update must hold every parameter; missing: " + w[0].name));
  std::vector<WeightTensor> misshaped = w;
  misshaped[0].shape.push_back(1);
  EXPECT_THAT(engine->UpdateWeights(1, misshaped).message(), HasSubstr("has shape ["));
  std::vector<WeightTensor> unknown = w;
  unknown[0].name = "model.nothing.weight";
  EXPECT_THAT(engine->UpdateWeights(1, unknown).message(),
              HasSubstr("the model has no parameter 'model.nothing.weight'"));
  EXPECT_THAT(engine->UpdateWeights(0, w).message(), HasSubstr("not above the current version 0"));
  EXPECT_EQ(engine->weight_version(), 0);
  for (const auto& [key, t] : ByKey(RunAll(*engine, r))) ExpectSameSamples(from_a.at(key), t);

  ASSERT_TRUE(engine->UpdateWeights(5, w).ok());
  EXPECT_EQ(engine->weight_version(), 5);
  for (const auto& [key, t] : ByKey(RunAll(*engine, r))) {
    ExpectSameSamples(from_b.at(key), t);
    EXPECT_EQ(t.weight_version, 5);
  }
}

TEST(EngineTest, SharedWeightsAdvanceBetweenSteps) {
  // The engine runs on the trainer's own model object; the "optimizer step" happens inside
  // AdvanceVersion, between two decode steps.
  auto shared = Model(1), target = Model(2);
  auto engine = Engine(shared, Options(4));
  GenerateRequest r = Request({Prompt(0, 5, 2, Sampling(3, 16))});
  std::map<Key, Trajectory> from_target = ByKey(RunAll(*Engine(target, Options(4)), r));
  absl::Status failed = engine->AdvanceVersion(1, [] { return absl::InternalError("no"); });
  EXPECT_EQ(failed.message(), "no");
  EXPECT_EQ(engine->weight_version(), 0);
  ASSERT_TRUE(engine
                  ->AdvanceVersion(1,
                                   [&] {
                                     testing::OverwriteInPlace(shared, target);
                                     return absl::OkStatus();
                                   })
                  .ok());
  EXPECT_EQ(engine->weight_version(), 1);
  for (const auto& [key, t] : ByKey(RunAll(*engine, r))) {
    ExpectSameSamples(from_target.at(key), t);
    EXPECT_EQ(t.segments, (std::vector<Segment>{{1, 0, 16}}));
  }
}

// ---- A real model: llama2.c's stories260K with its tokenizer -----------------------------

TEST(EngineTest, Stories260KGreedyTextAndStopStrings) {
  model::ModelOptions m;
  m.path = ponder::testing::SourcePath("tests/data/model/stories260K/stories260K.bin");
  m.tokenizer = ponder::testing::SourcePath("tests/data/model/stories260K/tok512.bin");
  RolloutOptions o;
  o.max_seq_len = 512;
  o.kv_cache_bytes = 8 << 20;
  absl::StatusOr<LoadedEngine> loaded = LoadRolloutEngine(m, o);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  nlohmann::json ref = nlohmann::json::parse(ponder::testing::ReadFile(
      ponder::testing::SourcePath("tests/data/model/stories260K/reference_outputs.json")));
  std::vector<int32_t> expected = ref["derived_here"]["greedy_from_bos"]["generated_ids"];
  GenerateRequest r;
  r.return_text = true;
  PromptRequest p;
  p.token_ids = {1};  // BOS
  p.sampling = Sampling(0, 150, 0.0);
  r.prompts.push_back(p);
  Trajectory t = RunAll(*loaded->engine, r)[0];
  EXPECT_EQ(t.token_ids, std::vector<int32_t>(expected.begin(), expected.begin() + 150));
  const std::string published = ref["published"][0]["expected_text"];
  EXPECT_EQ(published.rfind(t.text, 0), 0u) << t.text;  // our text is a prefix of llama2.c's
  EXPECT_GT(t.text.size(), 300u);

  r.prompts[0].sampling.stop_strings = {"red ball"};
  Trajectory stopped = RunAll(*loaded->engine, r)[0];
  EXPECT_EQ(stopped.finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped.text,
            "Once upon a time, there was a little girl named Lily. She loved to play "
            "outside in the park. One day, she saw a big, red ball");
}

}  // namespace
}  // namespace ponder::rollout
