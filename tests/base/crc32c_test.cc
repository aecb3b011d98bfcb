#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace ponder {
namespace {

// RFC 3720 (iSCSI) appendix B.4 test vectors, and the usual "123456789" check value.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, '\0'), dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(dec.data(), 32), 0x113FDB5Cu);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, ExtendingEqualsTheWholeAtAnySplitAndAlignment) {
  std::string data(1000, '\0');
  std::mt19937 rng(1);
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t split : {size_t{0}, size_t{5}, size_t{64}, size_t{333}}) {
      const std::string part = data.substr(start);
      uint32_t crc = Crc32c(data.data(), start);
      crc = Crc32cExtend(crc, part.data(), split);
      crc = Crc32cExtend(crc, part.data() + split, part.size() - split);
      EXPECT_EQ(crc, whole) << start << " " << split;
    }
  }
}

}  // namespace
}  // namespace ponder
