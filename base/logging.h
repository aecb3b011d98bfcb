// One logging library for the whole project: spdlog. Code logs with spdlog::info(...) etc.;
// this header only configures it.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace ponder {

// The names accepted by SetLogLevel and by the `run.log_level` config key.
inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

// Sets the process-wide log level; an unknown name is an InvalidArgument naming the choices.
absl::Status SetLogLevel(const std::string& level);

// Installs the default logger: messages on stderr with a timestamp and level, so that stdout
// stays free for a command's output.
void InitLogging();

}  // namespace ponder
