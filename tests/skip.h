// A test that cannot run in this environment (not root, no sandbox, no cgroups, ...) skips and
// says why. Under CI (`.ci/run` sets PONDER_REQUIRE_ALL_TESTS=1) it fails instead: a green CI
// run must not hide tests that never ran.
#ifndef PONDER_TESTS_SKIP_H_
#define PONDER_TESTS_SKIP_H_

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace ponder::testing {

inline bool AllTestsRequired() {
  const char* v = std::getenv("PONDER_REQUIRE_ALL_TESTS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace ponder::testing

// `why` is a string (or anything gtest can stream as one value).
#define PONDER_SKIP_OR_FAIL(why)                                                                \
  do {                                                                                          \
    if (::ponder::testing::AllTestsRequired()) {                                                \
      GTEST_FAIL() << "cannot run here, and PONDER_REQUIRE_ALL_TESTS=1 requires it: " << (why); \
    } else {                                                                                    \
      GTEST_SKIP() << (why);                                                                    \
    }                                                                                           \
  } while (0)

#endif  // PONDER_TESTS_SKIP_H_
