// Stop rules and request validation, against values worked out by hand. (The token sampler's
// tests are tests/model/sampling_test.cc.)
#include "rollout/sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "rollout/rollout.h"

namespace ponder::rollout {
namespace {

using ::testing::HasSubstr;

TEST(StopRulesTest, Repetition) {
  EXPECT_TRUE(EndsWithRepetition({9, 1, 2, 3, 1, 2, 3}, 3, 2));
  EXPECT_FALSE(EndsWithRepetition({9, 1, 2, 3, 1, 2, 3}, 3, 3));
  EXPECT_TRUE(EndsWithRepetition({5, 5, 5}, 1, 3));
  EXPECT_FALSE(EndsWithRepetition({5, 5, 4}, 1, 2));
  EXPECT_FALSE(EndsWithRepetition({1, 2, 1, 2}, 0, 0));
}

TEST(StopRulesTest, StopStringsMustTouchTheNewText) {
  EXPECT_TRUE(HasStopString("abc</s>", 4, {"</s>"}));   // "/s>" is new
  EXPECT_TRUE(HasStopString("abc</s>", 6, {"</s>"}));   // only ">" is new
  EXPECT_FALSE(HasStopString("</s>xyz", 5, {"</s>"}));  // found earlier: not again
  EXPECT_FALSE(HasStopString("abc", 0, {"abcd"}));
  EXPECT_TRUE(HasStopString("x\n\n", 2, {"\n\n", "zz"}));
}

// ---- Request validation: one case per kind of bad request --------------------------------

GenerateRequest OnePrompt() {
  GenerateRequest r;
  PromptRequest p;
  p.prompt_index = 4;
  p.token_ids = {1, 2, 3};
  p.n = 2;
  p.sampling.max_new_tokens = 10;
  r.prompts.push_back(p);
  return r;
}

std::string Problem(const GenerateRequest& r, bool tokenizer = false) {
  RequestLimits limits;
  limits.vocab_size = 50;
  limits.max_seq_len = 20;
  limits.has_tokenizer = tokenizer;
  absl::Status s = ValidateRequest(r, limits);
  EXPECT_TRUE(s.ok() || absl::IsInvalidArgument(s)) << s;
  return std::string(s.message());
}

TEST(ValidateRequestTest, NamesThePromptAndTheProblem) {
  EXPECT_EQ(Problem(OnePrompt()), "");
  GenerateRequest r = OnePrompt();
  r.prompts[0].token_ids.clear();
  EXPECT_THAT(Problem(r), HasSubstr("prompts[0] (prompt_index 4): the prompt is empty"));
  r = OnePrompt();
  r.prompts[0].n = 0;
  EXPECT_THAT(Problem(r), HasSubstr("prompt_index 4): n must be >= 1"));
  r = OnePrompt();
  r.prompts[0].token_ids[1] = 50;
  EXPECT_THAT(Problem(r), HasSubstr("token_ids[1] = 50 is outside the vocabulary [0, 50)"));
  r.prompts[0].token_ids[1] = -1;
  EXPECT_THAT(Problem(r), HasSubstr("token_ids[1] = -1 is outside"));
  r = OnePrompt();
  r.prompts[0].sampling.max_new_tokens = 18;
  EXPECT_THAT(Problem(r), HasSubstr("3 prompt tokens + max_new_tokens 18 = 21 exceed the context "
                                    "of 20 tokens"));
  r = OnePrompt();
  r.prompts[0].sampling.max_new_tokens = 0;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.max_new_tokens must be >= 1 (got 0)"));
  r = OnePrompt();
  r.prompts[0].sampling.temperature = -1;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.temperature must be >= 0"));
  r = OnePrompt();
  r.prompts[0].sampling.top_p = 1.5;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.top_p must be in (0, 1]"));
  r = OnePrompt();
  r.prompts[0].sampling.top_k = -2;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.top_k must be >= 0"));
  r = OnePrompt();
  r.prompts[0].sampling.min_p = 2;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.min_p must be in [0, 1]"));
  r = OnePrompt();
  r.prompts[0].sampling.repetition_penalty = 0;
  EXPECT_THAT(Problem(r), HasSubstr("sampling.repetition_penalty must be > 0"));
  r = OnePrompt();
  r.prompts[0].sampling.repeat_ngram = 3;
  EXPECT_THAT(Problem(r), HasSubstr("repeat_ngram and repeat_count must be set together"));
  r = OnePrompt();
  r.prompts[0].sampling.stop_token_ids = {60};
  EXPECT_THAT(Problem(r), HasSubstr("stop_token_ids holds 60, outside the vocabulary"));
  r = OnePrompt();
  r.prompts[0].sampling.stop_strings = {"\n"};
  EXPECT_THAT(Problem(r), HasSubstr("stop_strings need a tokenizer"));
  EXPECT_EQ(Problem(r, /*tokenizer=*/true), "");
  r = OnePrompt();
  r.return_text = true;
  EXPECT_THAT(Problem(r), HasSubstr("return_text needs a tokenizer"));
  r = OnePrompt();
  r.prompts.push_back(r.prompts[0]);
  EXPECT_THAT(Problem(r),
              HasSubstr("prompts[1] (prompt_index 4): prompt_index appears more than once"));
  r.prompts.clear();
  EXPECT_THAT(Problem(r), HasSubstr("the request has no prompts"));
  r.resume_paused = true;
  EXPECT_EQ(Problem(r), "");
}

TEST(SegmentsTest, OnePerRunOfVersions) {
  EXPECT_EQ(SegmentsFromVersions({}), std::vector<Segment>{});
  EXPECT_EQ(SegmentsFromVersions({0, 0, 1, 1, 1, 3}),
            (std::vector<Segment>{{0, 0, 2}, {1, 2, 5}, {3, 5, 6}}));
}

}  // namespace
}  // namespace ponder::rollout
