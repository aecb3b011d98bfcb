// The engine's error boundary: a LibTorch error in a generation step, or a model whose output
// does not fit the request, ends the requests in flight with an error that names what failed,
// and the engine goes on serving the next requests; a weight update that throws fails with its
// message and changes nothing. (A failed fork of a prompt's KV cache blocks is in
// scheduler_test.cc.)
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "model/decoder.h"
#include "rollout/engine.h"
#include "tests/rollout/engine_test_util.h"
#include "tests/rollout/tiny_model.h"

namespace ponder::rollout {
namespace {

using testing::ByKey;
using testing::Engine;
using testing::ExpectSameSamples;
using ::testing::HasSubstr;
using testing::Model;
using testing::Options;
using testing::Prompt;
using testing::Request;
using testing::RunAll;
using testing::Sampling;

// Replaces the data of `model`'s parameter `name` between two decode steps (what a bad weight
// update would leave), and returns the data it had.
at::Tensor SwapParameter(RolloutEngine& engine, const std::shared_ptr<model::DecoderImpl>& model,
                         const std::string& name, const at::Tensor& data, int64_t version) {
  at::Tensor param = model->named_parameters()[name];
  at::Tensor old = param.data();
  EXPECT_TRUE(engine
                  .AdvanceVersion(version,
                                  [&] {
                                    param.set_data(data);
                                    return absl::OkStatus();
                                  })
                  .ok());
  return old;
}

// Every sample of `r` ends: the request fails with `code` and a message holding `what`, and
// nothing stays in the engine.
void ExpectRequestFails(RolloutEngine& engine, const GenerateRequest& r, const std::string& what) {
  absl::StatusOr<std::vector<Trajectory>> out = engine.Generate(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr(what));
  BackendStatus status = *engine.GetStatus();
  EXPECT_EQ(status.active_sequences, 0u);
  EXPECT_EQ(status.waiting_sequences, 0u);
  EXPECT_EQ(status.kv_cache_bytes_used, 0u);
}

TEST(EngineErrorsTest, ALibTorchErrorInAStepEndsTheRequestAndTheEngineServesOn) {
  auto model = Model(1);
  model->set_use_cpu_kernels(false);  // the tensor-op path, where LibTorch checks shapes
  auto engine = Engine(model, Options(4));
  const GenerateRequest r =
      Request({Prompt(0, 5, 3, Sampling(3, 8)), Prompt(1, 7, 1, Sampling(4, 8))});
  const std::map<testing::Key, Trajectory> before = ByKey(RunAll(*engine, r));
  ASSERT_EQ(before.size(), 4u);

  // The final norm one element too long: the forward's multiply fails in LibTorch.
  const int64_t hidden = model->config().hidden_size;
  at::Tensor norm = SwapParameter(*engine, model, "model.norm.weight", at::ones({hidden + 1}), 1);
  ExpectRequestFails(*engine, r, "Decoder::Step: The size of tensor a");

  // Weights put back: the engine serves the same request as before.
  SwapParameter(*engine, model, "model.norm.weight", norm, 2);
  const std::map<testing::Key, Trajectory> after = ByKey(RunAll(*engine, r));
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [key, t] : after) EXPECT_EQ(t.token_ids, before.at(key).token_ids);
}

TEST(EngineErrorsTest, LogitsOfTheWrongWidthEndTheRequestInsteadOfBeingSampled) {
  // An LM head one row short gives logits over 95 tokens for a vocabulary of 96: sampling them
  // would read past the row.
  auto model = Model(1);
  model->set_use_cpu_kernels(false);
  auto engine = Engine(model, Options(4));
  const GenerateRequest r = Request({Prompt(0, 5, 2, Sampling(3, 8))});
  const std::vector<Trajectory> before = RunAll(*engine, r);
  const int64_t vocab = model->config().vocab_size;
  at::Tensor head = model->named_parameters()["lm_head.weight"].data();
  SwapParameter(*engine, model, "lm_head.weight", head.narrow(0, 0, vocab - 1).clone(), 1);
  ExpectRequestFails(*engine, r,
                     "rollout engine: a generation step failed: the model's logits have shape "
                     "[1, 95], expected [1, 96]");
  SwapParameter(*engine, model, "lm_head.weight", head, 2);
  const std::map<testing::Key, Trajectory> after = ByKey(RunAll(*engine, r));
  for (const Trajectory& t : before) {
    EXPECT_EQ(after.at({t.prompt_index, t.sample_index}).token_ids, t.token_ids);
  }
}

TEST(EngineErrorsTest, AWeightUpdateThatThrowsFailsWithItsMessageAndChangesNothing) {
  auto model = Model(1);
  auto engine = Engine(model, Options(4));
  const GenerateRequest r = Request({Prompt(0, 5, 2, Sampling(3, 8))});
  const std::vector<Trajectory> before = RunAll(*engine, r);
  absl::Status thrown = engine->AdvanceVersion(
      1, []() -> absl::Status { throw std::runtime_error("the optimizer ran out of memory"); });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(thrown.message(), "weight update failed: the optimizer ran out of memory");
  // A LibTorch error in the update: a view of the wrong size.
  absl::Status torch_error = engine->AdvanceVersion(1, [] {
    at::ones({4}).view({3});
    return absl::OkStatus();
  });
  EXPECT_EQ(torch_error.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(torch_error.message()), HasSubstr("weight update failed: shape '[3]'"));
  EXPECT_EQ(engine->weight_version(), 0);
  const std::map<testing::Key, Trajectory> after = ByKey(RunAll(*engine, r));
  ASSERT_EQ(after.size(), before.size());
  for (const Trajectory& t : before)
    ExpectSameSamples(t, after.at({t.prompt_index, t.sample_index}));
}

}  // namespace
}  // namespace ponder::rollout
