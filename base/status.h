// Status helpers used at every module boundary (see CONVENTIONS.md, "Errors").
//
// The packaged Abseil (20220623) has absl::Status and absl::StatusOr but no macros to
// propagate them, so these are ours.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

// Returns from the current function when `expr` (an absl::Status) is not OK.
#define PONDER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status _ponder_status = (expr);          \
    if (!_ponder_status.ok()) return _ponder_status; \
  } while (0)

#define PONDER_CONCAT_INNER_(a, b) a##b
#define PONDER_CONCAT_(a, b) PONDER_CONCAT_INNER_(a, b)

// `PONDER_ASSIGN_OR_RETURN(auto x, MakeX());` declares (or assigns) `x` from a StatusOr,
// returning the error to the caller when there is one.
#define PONDER_ASSIGN_OR_RETURN(lhs, expr) \
  PONDER_ASSIGN_OR_RETURN_IMPL_(PONDER_CONCAT_(_ponder_statusor_, __LINE__), lhs, expr)

#define PONDER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace ponder {

// Returns `status` with `context` put in front of its message ("context: message"), keeping
// the code. OK stays OK.
absl::Status Annotate(const absl::Status& status, const std::string& context);

}  // namespace ponder
