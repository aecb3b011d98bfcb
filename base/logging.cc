#include "base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ponder {

absl::Status SetLogLevel(const std::string& level) {
  for (const char* name : kLogLevels) {
    if (level == name) {
      spdlog::set_level(spdlog::level::from_str(level));
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown log level '", level, "' (choose one of ",
                                                 absl::StrJoin(kLogLevels, ", "), ")"));
}

void InitLogging() {
  auto logger = spdlog::stderr_color_mt("ponder");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %v");
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace ponder
