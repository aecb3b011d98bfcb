// Assembling a chunked weight update: the happy path and every malformed stream.
#include "rollout/weight_update.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/crc32c.h"

namespace ponder::rollout {
namespace {

using ::testing::HasSubstr;

struct Tensors {
  std::vector<float> a = std::vector<float>(1000), b = {1.5f, -2.0f};
  std::vector<WeightTensor> list;
  Tensors() {
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.25f;
    list.push_back({"a", WeightDType::kF32, {10, 100}, a.data(), a.size() * 4, nullptr});
    list.push_back({"b", WeightDType::kF32, {2}, b.data(), b.size() * 4, nullptr});
  }
  uint64_t bytes() const { return (a.size() + b.size()) * 4; }
  uint32_t crc() const {
    return Crc32cExtend(Crc32c(a.data(), a.size() * 4), b.data(), b.size() * 4);
  }
};

// Sends `t` in chunks of `chunk_bytes`; returns the first error.
absl::Status Send(WeightUpdateAssembler& w, const Tensors& t, size_t chunk_bytes) {
  absl::Status status;
  ForEachWeightChunk(t.list, chunk_bytes, [&](const WeightChunk& c) {
    status = w.AddChunk(c);
    return status.ok();
  });
  return status;
}

TEST(WeightUpdateTest, ChunksReassembleExactly) {
  Tensors t;
  int chunks = 0;
  ForEachWeightChunk(t.list, 300, [&](const WeightChunk&) { return ++chunks > 0; });
  EXPECT_EQ(chunks, 14 + 1);  // 4000 bytes in 300-byte chunks, and one for b
  WeightUpdateAssembler w;
  ASSERT_TRUE(w.Begin(7, 2, t.bytes()).ok());
  ASSERT_TRUE(Send(w, t, 300).ok());
  absl::StatusOr<std::vector<WeightTensor>> out = w.Commit(t.crc());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].name, "a");
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{10, 100}));
  ASSERT_EQ((*out)[0].bytes, 4000u);
  EXPECT_EQ(std::memcmp((*out)[0].data, t.a.data(), 4000), 0);
  EXPECT_EQ(std::memcmp((*out)[1].data, t.b.data(), 8), 0);
  EXPECT_EQ(w.version(), 7);
  EXPECT_EQ(w.bytes_received(), t.bytes());
}

TEST(WeightUpdateTest, ChecksumMismatchAppliesNothing) {
  Tensors t;
  WeightUpdateAssembler w;
  ASSERT_TRUE(w.Begin(1, 2, t.bytes()).ok());
  ASSERT_TRUE(Send(w, t, 1 << 20).ok());
  absl::StatusOr<std::vector<WeightTensor>> out = w.Commit(t.crc() ^ 1);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsDataLoss(out.status()));
  EXPECT_THAT(out.status().message(), HasSubstr("CRC-32C mismatch"));
}

TEST(WeightUpdateTest, MalformedStreamsNameTheProblem) {
  Tensors t;
  WeightChunk c;
  c.name = "a";
  c.shape = {10, 100};
  c.total_bytes = 4000;
  c.data = std::string_view(reinterpret_cast<const char*>(t.a.data()), 400);
  {
    WeightUpdateAssembler w;
    EXPECT_THAT(w.AddChunk(c).message(), HasSubstr("a chunk came before the begin message"));
    EXPECT_THAT(w.Commit(0).status().message(), HasSubstr("commit came before the begin"));
  }
  {
    WeightUpdateAssembler w;
    EXPECT_THAT(w.Begin(1, 0, 0).message(), HasSubstr("announces no tensors"));
  }
  {
    WeightUpdateAssembler w(100);
    EXPECT_THAT(w.Begin(1, 1, 4000).message(), HasSubstr("over the limit of 100"));
  }
  {
    WeightUpdateAssembler w;
    ASSERT_TRUE(w.Begin(1, 2, t.bytes()).ok());
    WeightChunk bad = c;
    bad.total_bytes = 3996;
    EXPECT_THAT(w.AddChunk(bad).message(),
                HasSubstr("tensor 'a': total_bytes 3996 does not match shape [10, 100] of "
                          "float32 (4000 bytes)"));
    bad = c;
    bad.offset = 400;
    EXPECT_THAT(w.AddChunk(bad).message(), HasSubstr("chunk at offset 400, expected 0"));
    ASSERT_TRUE(w.AddChunk(c).ok());
    WeightChunk other = c;
    other.name = "b";
    other.shape = {2};
    other.total_bytes = 8;
    other.data = std::string_view(reinterpret_cast<const char*>(t.b.data()), 8);
    EXPECT_THAT(w.AddChunk(other).message(),
                HasSubstr("tensor 'b' started before tensor 'a' was complete"));
    WeightChunk changed = c;
    changed.offset = 400;
    changed.dtype = WeightDType::kBF16;
    changed.total_bytes = 2000;
    EXPECT_THAT(w.AddChunk(changed).message(), HasSubstr("differ between its chunks"));
    EXPECT_THAT(w.Commit(0).status().message(), HasSubstr("1 tensors received, 2 announced"));
  }
  {
    WeightUpdateAssembler w;
    ASSERT_TRUE(w.Begin(1, 1, 4000).ok());
    WeightChunk past = c;
    past.offset = 0;
    past.data = std::string_view(reinterpret_cast<const char*>(t.a.data()), 4000);
    ASSERT_TRUE(w.AddChunk(past).ok());
    EXPECT_THAT(w.AddChunk(past).message(), HasSubstr("chunk at offset 0, expected 4000"));
    WeightChunk extra = c;
    extra.name = "z";
    EXPECT_THAT(w.AddChunk(extra).message(), HasSubstr("more tensors than the 1 announced"));
    ASSERT_TRUE(w.Commit(Crc32c(t.a.data(), 4000)).ok());
    EXPECT_THAT(w.AddChunk(c).message(), HasSubstr("after the commit"));
  }
  {
    WeightUpdateAssembler w;
    ASSERT_TRUE(w.Begin(1, 1, 4000).ok());
    ASSERT_TRUE(w.AddChunk(c).ok());
    EXPECT_THAT(w.Commit(0).status().message(),
                HasSubstr("tensor 'a' has 400 of its 4000 bytes; nothing applied"));
  }
  {
    WeightUpdateAssembler w;
    ASSERT_TRUE(w.Begin(1, 2, 100).ok());
    EXPECT_THAT(w.AddChunk(c).message(), HasSubstr("exceed the 100 bytes announced"));
  }
}

}  // namespace
}  // namespace ponder::rollout
