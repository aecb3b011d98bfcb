// The token sampler (model/sampling.h), shared by the rollout engine and `ponder generate
// --prompt`: token choice against values worked out by hand (or by a brute-force reference
// written here).
#include "model/sampling.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace ponder::model {
namespace {

// A row given by its probabilities: log_probs = log p, logits = log p (so greedy = argmax p).
struct Row {
  explicit Row(std::vector<double> p) {
    for (double x : p) {
      probs.push_back(static_cast<float>(x));
      log_probs.push_back(static_cast<float>(std::log(x)));
    }
  }
  TokenChoice Choose(const SamplingParams& s, double u) const {
    return ChooseToken(log_probs.data(), log_probs.data(), probs.data(),
                       static_cast<int64_t>(probs.size()), s, u);
  }
  std::vector<float> probs, log_probs;
};

SamplingParams Sampling(double temperature = 1.0) {
  SamplingParams s;
  s.temperature = temperature;
  return s;
}

TEST(UniformDrawTest, DeterministicInRangeAndIndependentOfEachCoordinate) {
  EXPECT_EQ(UniformDraw(1, 2, 3, 4), UniformDraw(1, 2, 3, 4));
  EXPECT_NE(UniformDraw(1, 2, 3, 4), UniformDraw(2, 2, 3, 4));
  EXPECT_NE(UniformDraw(1, 2, 3, 4), UniformDraw(1, 3, 3, 4));
  EXPECT_NE(UniformDraw(1, 2, 3, 4), UniformDraw(1, 2, 4, 4));
  EXPECT_NE(UniformDraw(1, 2, 3, 4), UniformDraw(1, 2, 3, 5));
  double sum = 0, sum_sq = 0;
  const int n = 20000;
  for (int t = 0; t < n; ++t) {
    const double u = UniformDraw(7, 0, 0, static_cast<uint64_t>(t));
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
  }
  // Uniform(0, 1): mean 1/2, variance 1/12; the standard error of the mean is ~0.002.
  EXPECT_NEAR(sum / n, 0.5, 0.01);
  EXPECT_NEAR(sum_sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.005);
}

TEST(ChooseTokenTest, GreedyTakesTheArgmaxAndItsLogProb) {
  Row row({0.1, 0.4, 0.2, 0.3});
  TokenChoice c = row.Choose(Sampling(0.0), 0.99);
  EXPECT_EQ(c.token, 1);
  EXPECT_FLOAT_EQ(c.logprob, std::log(0.4f));
  // Ties go to the lower id.
  Row tie({0.3, 0.1, 0.3, 0.3});
  EXPECT_EQ(tie.Choose(Sampling(0.0), 0.5).token, 0);
}

TEST(ChooseTokenTest, InverseCdfInIdOrder) {
  // Cumulative 0.1, 0.3, 0.6, 1.0.
  Row row({0.1, 0.2, 0.3, 0.4});
  const SamplingParams s = Sampling();
  EXPECT_EQ(row.Choose(s, 0.05).token, 0);
  EXPECT_EQ(row.Choose(s, 0.15).token, 1);
  EXPECT_EQ(row.Choose(s, 0.31).token, 2);
  EXPECT_EQ(row.Choose(s, 0.95).token, 3);
  EXPECT_FLOAT_EQ(row.Choose(s, 0.31).logprob, std::log(0.3f));
}

TEST(ChooseTokenTest, TopKRenormalisesOverTheKept) {
  Row row({0.1, 0.2, 0.3, 0.4});
  SamplingParams s = Sampling();
  s.top_k = 2;                         // keeps ids 2 (0.3) and 3 (0.4); mass 0.7, in id order
  TokenChoice a = row.Choose(s, 0.2);  // target 0.14 < 0.3
  EXPECT_EQ(a.token, 2);
  EXPECT_NEAR(a.logprob, std::log(0.3 / 0.7), 1e-6);
  TokenChoice b = row.Choose(s, 0.5);  // target 0.35 > 0.3
  EXPECT_EQ(b.token, 3);
  EXPECT_NEAR(b.logprob, std::log(0.4 / 0.7), 1e-6);
}

TEST(ChooseTokenTest, TopPKeepsTheSmallestNucleusInDecreasingOrder) {
  Row row({0.1, 0.2, 0.3, 0.4});
  SamplingParams s = Sampling();
  s.top_p = 0.65;                      // 0.4, then 0.4 + 0.3 = 0.7 >= 0.65: keeps ids 3, 2
  TokenChoice a = row.Choose(s, 0.5);  // target 0.35 < 0.4 (id 3 first)
  EXPECT_EQ(a.token, 3);
  EXPECT_NEAR(a.logprob, std::log(0.4 / 0.7), 1e-6);
  TokenChoice b = row.Choose(s, 0.9);  // target 0.63
  EXPECT_EQ(b.token, 2);
  EXPECT_NEAR(b.logprob, std::log(0.3 / 0.7), 1e-6);
  s.top_p = 0.3;  // the top token alone is enough
  for (double u : {0.0, 0.5, 0.999}) EXPECT_EQ(row.Choose(s, u).token, 3);
  EXPECT_NEAR(row.Choose(s, 0.5).logprob, 0.0, 1e-6);
}

TEST(ChooseTokenTest, MinPDropsTokensBelowAFractionOfTheTop) {
  Row row({0.1, 0.2, 0.3, 0.4});
  SamplingParams s = Sampling();
  s.min_p = 0.6;  // threshold 0.24: keeps ids 2, 3
  TokenChoice a = row.Choose(s, 0.2);
  EXPECT_EQ(a.token, 2);
  EXPECT_NEAR(a.logprob, std::log(0.3 / 0.7), 1e-6);
}

TEST(ChooseTokenTest, TruncationsComposeInOrderTopKTopPMinP) {
  Row row({0.05, 0.1, 0.15, 0.3, 0.4});
  SamplingParams s = Sampling();
  s.top_k = 3;    // ids 4, 3, 2 (mass 0.85)
  s.top_p = 0.8;  // of 0.85: 0.4 + 0.3 = 0.7 >= 0.68 -> ids 4, 3
  s.min_p = 0.5;  // threshold 0.2 keeps both
  TokenChoice a = row.Choose(s, 0.99);
  EXPECT_EQ(a.token, 3);
  EXPECT_NEAR(a.logprob, std::log(0.3 / 0.7), 1e-6);
  s.min_p = 0.8;  // threshold 0.32 drops id 3
  EXPECT_EQ(row.Choose(s, 0.99).token, 4);
  EXPECT_NEAR(row.Choose(s, 0.99).logprob, 0.0, 1e-6);
}

// Brute force: sort everything, cut the nucleus, renormalise.
std::vector<std::pair<int32_t, double>> ReferenceNucleus(const std::vector<double>& p,
                                                         double top_p) {
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  double total = std::accumulate(p.begin(), p.end(), 0.0), cum = 0;
  std::vector<std::pair<int32_t, double>> kept;
  for (int32_t id : order) {
    kept.push_back({id, p[id]});
    cum += p[id];
    if (cum >= top_p * total) break;
  }
  return kept;
}

TEST(ChooseTokenTest, LargeVocabularyNucleusMatchesBruteForce) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> exp(1.0);
  std::vector<double> p(5000);
  for (double& x : p) x = std::pow(exp(rng), 4.0);  // heavy-tailed: a long nucleus
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= total;
  Row row(p);
  SamplingParams s = Sampling();
  for (double top_p : {0.5, 0.9, 0.99}) {
    s.top_p = top_p;
    auto kept = ReferenceNucleus(p, top_p);
    double mass = 0;
    for (auto& [id, q] : kept) mass += q;
    for (double u : {0.0, 0.1, 0.37, 0.8, 0.9999}) {
      double target = u * mass, cum = 0;
      int32_t want = kept.back().first;
      for (auto& [id, q] : kept) {
        cum += q;
        if (target < cum) {
          want = id;
          break;
        }
      }
      TokenChoice c = row.Choose(s, u);
      EXPECT_EQ(c.token, want) << "top_p " << top_p << " u " << u;
      EXPECT_NEAR(c.logprob, std::log(p[want] / mass), 1e-4);
    }
  }
}

TEST(ChooseTokenTest, FrequenciesFollowTheDistribution) {
  Row row({0.5, 0.25, 0.125, 0.125});
  std::vector<int> counts(4, 0);
  const int n = 40000;
  for (int t = 0; t < n; ++t) ++counts[row.Choose(Sampling(), UniformDraw(9, 1, 2, t)).token];
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.25, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.125, 0.01);
  EXPECT_NEAR(counts[3] / double(n), 0.125, 0.01);
}

TEST(ChooseTokenTest, NonFiniteRowsFallBackToTheArgmax) {
  std::vector<float> logits = {NAN, 1.0f, 3.0f}, nan(3, NAN);
  TokenChoice c = ChooseToken(logits.data(), nan.data(), nan.data(), 3, Sampling(), 0.5);
  EXPECT_EQ(c.token, 2);
}

TEST(RepetitionPenaltyTest, DividesPositiveAndMultipliesNegativeLogits) {
  std::vector<float> logits = {2.0f, -2.0f, 1.0f};
  ApplyRepetitionPenalty(logits.data(), {0, 1}, 2.0);
  EXPECT_THAT(logits, ::testing::ElementsAre(1.0f, -4.0f, 1.0f));
}

// SampleRow = repetition penalty, log_softmax(logits / T), then ChooseToken with the same u.
TEST(SampleRowTest, TemperedSoftmaxThenChooseToken) {
  // logits log(1..4) at T = 0.5: probabilities 1, 4, 9, 16 over 30.
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  SamplingParams s;
  s.temperature = 0.5;
  SampleBuffers buffers;
  // Cumulative 1/30, 5/30, 14/30, 1.
  EXPECT_EQ(SampleRow(logits.data(), 4, s, {}, 0.02, buffers).token, 0);
  EXPECT_EQ(SampleRow(logits.data(), 4, s, {}, 0.10, buffers).token, 1);
  EXPECT_EQ(SampleRow(logits.data(), 4, s, {}, 0.40, buffers).token, 2);
  TokenChoice c = SampleRow(logits.data(), 4, s, {}, 0.90, buffers);
  EXPECT_EQ(c.token, 3);
  EXPECT_NEAR(c.logprob, std::log(16.0 / 30), 1e-6);
  // Greedy: the argmax, with its log-prob at temperature 1.
  s.temperature = 0;
  c = SampleRow(logits.data(), 4, s, {}, 0.0, buffers);
  EXPECT_EQ(c.token, 3);
  EXPECT_NEAR(c.logprob, std::log(0.4), 1e-6);
  // A penalty of 4 on id 3 (logit log 4 -> log(4) / 4) makes id 2 the argmax; the logits
  // themselves are left as they were.
  s.repetition_penalty = 4.0;
  EXPECT_EQ(SampleRow(logits.data(), 4, s, {3}, 0.0, buffers).token, 2);
  EXPECT_EQ(logits[3], std::log(4.0f));
}

}  // namespace
}  // namespace ponder::model
