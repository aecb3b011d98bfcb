// The configuration reference (docs/config-reference.md), generated from the options structs
// themselves (base/config.h's DescribeFields): every key of a job file with its type, default
// and the rules checked at load, and the options of every built-in verifier. `ponder config
// reference` prints it; a test fails when the checked-in file differs.
#pragma once

#include <string>

namespace ponder::trainer {

// The reference as Markdown.
std::string ConfigReference();

}  // namespace ponder::trainer
