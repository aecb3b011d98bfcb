// Constructors of the built-in tasks (one file each), used by builtin_task.cc.
#pragma once

#include <memory>

#include "trainer/builtin_task.h"

namespace ponder::trainer::internal {

std::unique_ptr<BuiltinTask> MakeArithmeticTask(const BuiltinTaskOptions& options);
std::unique_ptr<BuiltinTask> MakeCountdownTask(const BuiltinTaskOptions& options);

inline constexpr int64_t kMaxArithmeticLevel = 9;  // products of two 9-digit numbers fit int64
inline constexpr int64_t kMinCountdownLevel = 2;
inline constexpr int64_t kMaxCountdownLevel = 5;  // all expressions are enumerated (233k at 5)

}  // namespace ponder::trainer::internal
