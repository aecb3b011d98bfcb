// Every message of ponder.v1 survives encode -> decode unchanged.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ponder/v1/reward.pb.h"
#include "ponder/v1/rollout.pb.h"
#include "ponder/v1/tensor.pb.h"

namespace ponder::v1 {
namespace {

using google::protobuf::Message;

// Parses `text` into a fresh message of `prototype`'s type, round-trips it through the
// binary encoding and checks that nothing changed.
void ExpectRoundTrip(const Message& prototype, const std::string& text) {
  std::unique_ptr<Message> original(prototype.New());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, original.get()))
      << prototype.GetTypeName();
  std::string wire;
  ASSERT_TRUE(original->SerializeToString(&wire));
  std::unique_ptr<Message> decoded(prototype.New());
  ASSERT_TRUE(decoded->ParseFromString(wire));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*original, *decoded))
      << prototype.GetTypeName() << ": " << decoded->DebugString();
  EXPECT_FALSE(wire.empty()) << prototype.GetTypeName();
}

TEST(ProtoRoundTripTest, TensorMessages) {
  ExpectRoundTrip(TensorChunk(), R"pb(
    name: "model.layers.0.mlp.up_proj.weight"
    dtype: DTYPE_BF16
    shape: [ 688, 256 ]
    offset: 4096
    total_bytes: 352256
    data: "\x01\x02\x00\xff")pb");
}

TEST(ProtoRoundTripTest, RolloutMessages) {
  ExpectRoundTrip(SamplingParams(), R"pb(
    temperature: 0.7
    top_p: 0.95
    top_k: 50
    min_p: 0.05
    repetition_penalty: 1.1
    max_new_tokens: 32768
    stop_token_ids: [ 2, 151645 ]
    stop_strings: "</answer>"
    seed: 42
    repeat_ngram: 20
    repeat_count: 4
    round_token_budget: 8192)pb");
  ExpectRoundTrip(PromptRequest(), R"pb(prompt_index: 7
                                        token_ids: [ 1, 2, 3 ]
                                        n: 8
                                        sampling { temperature: 1 })pb");
  ExpectRoundTrip(GenerateRequest(), R"pb(request_id: "step-3"
                                          return_text: true
                                          resume_paused: true
                                          prompts { prompt_index: 1 token_ids: 5 n: 2 })pb");
  ExpectRoundTrip(Trajectory(), R"pb(
    prompt_index: 3
    sample_index: 1
    token_ids: [ 10, 11, 12 ]
    logprobs: [ -0.5, -1.25, 0 ]
    finish_reason: FINISH_REASON_PAUSED
    weight_version: 12
    prompt_tokens: 40
    text: "abc"
    segments { weight_version: 11 begin: 0 end: 2 }
    segments { weight_version: 12 begin: 2 end: 3 })pb");
  ExpectRoundTrip(GenerateResponse(), R"pb(trajectory { prompt_index: 1 token_ids: 4 })pb");
  ExpectRoundTrip(UpdateWeightsRequest(),
                  R"pb(begin { version: 4 num_tensors: 30 total_bytes: 1000 })pb");
  ExpectRoundTrip(UpdateWeightsRequest(),
                  R"pb(chunk { name: "w" dtype: DTYPE_F32 data: "abcd" })pb");
  ExpectRoundTrip(UpdateWeightsRequest(), R"pb(commit { crc32c: 3735928559 })pb");
  ExpectRoundTrip(UpdateWeightsResponse(),
                  R"pb(version: 4 bytes_received: 1000 apply_seconds: 0.25)pb");
  ExpectRoundTrip(RolloutStatus(), R"pb(
    weight_version: 9
    active_sequences: 64
    waiting_sequences: 3
    paused_sequences: 2
    kv_cache_bytes_used: 1000
    kv_cache_bytes_budget: 4000
    gen_tokens_per_s: 5123.5
    generated_tokens_total: 99999
    model: "stories260K"
    max_context: 512)pb");
}

TEST(ProtoRoundTripTest, RewardMessages) {
  ExpectRoundTrip(ScoreItem(), R"pb(
    id: "s1"
    prompt: "What is 2+2?"
    response: "\\boxed{4}"
    data_source: "gsm8k"
    ground_truth { string_value: "4" }
    metadata {
      fields {
        key: "level"
        value { number_value: 3 }
      }
    })pb");
  ExpectRoundTrip(ScoreRequest(), R"pb(verifier: "math"
                                       timeout_s: 5
                                       token: "secret"
                                       items { id: "a" response: "x" })pb");
  ExpectRoundTrip(ScoreResult(), R"pb(
    id: "a"
    score: 0.75
    correct: CORRECTNESS_CORRECT
    seconds: 0.01
    components { key: "math" value: 1 }
    components { key: "format" value: -0.25 }
    details {
      fields {
        key: "extracted"
        value { string_value: "4" }
      }
    }
    error { code: 4 message: "timed out after 5 s" })pb");
  ExpectRoundTrip(ScoreResponse(), R"pb(results { id: "a" score: 1 })pb");
  ExpectRoundTrip(ListVerifiersResponse(),
                  R"pb(verifiers { name: "math" description: "answers" })pb");
}

TEST(ProtoRoundTripTest, TokenIdsArePacked) {
  // 1000 small token ids must cost about one byte each plus one tag, not a tag per id.
  Trajectory t;
  for (int i = 0; i < 1000; ++i) t.add_token_ids(i % 100);
  EXPECT_LT(t.ByteSizeLong(), 1010u);
}

}  // namespace
}  // namespace ponder::v1
