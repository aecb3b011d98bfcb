// Whole-file reads and checked writes, returning Status (one copy for every module): a file
// read at once, a file replaced atomically (a reader sees the old or the new contents, never
// a part), and a line appended. Every write is checked, including the final flush; errors
// name the path and the system's reason.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ponder::file {

// The bytes of `path`. NotFound when it does not exist, else Internal when it cannot be read;
// `what` names the file in the message ("cannot read config file 'x.yaml': No such file or
// directory").
absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what = "");

// Replaces `path` by `contents`: written to `path`.tmp beside it, flushed to disk (fsync),
// then renamed over `path`. On failure `path` is left as it was and the temporary removed.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Appends `line` and a newline to `path` (created when missing) in one unbuffered write.
absl::Status AppendLine(const std::string& path, std::string_view line);

}  // namespace ponder::file
