// `remote`: forwards each sample to a RewardService (any language; see python/ponder_verifier)
// and returns its verdict. This is how a custom verifier written outside C++ plugs in:
//
//   reward:
//     verifiers:
//       - name: remote
//         options: {address: "127.0.0.1:50070", verifier: my_check, timeout_s: 10}
//
// The call's deadline is the sooner of timeout_s and the item's own deadline. An error from
// the server (or no server) is this item's error.
#pragma once

#include <memory>
#include <string>

#include "base/config.h"
#include "reward/verifier.h"

namespace ponder::reward {

struct RemoteOptions {
  std::string address;   // host:port of the RewardService
  std::string verifier;  // the name to ask for there ("" = the server's configured reward)
  std::string token;     // sent when not empty
  double timeout_s = 30.0;
  void Bind(config::Binder& b);
};

class RemoteVerifier : public Verifier {
 public:
  using Options = RemoteOptions;
  static absl::StatusOr<std::unique_ptr<RemoteVerifier>> Create(const Options& options);
  ~RemoteVerifier() override;
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const override;

 private:
  struct Impl;
  explicit RemoteVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder::reward
