// The `reward:` section of the job config: which verifiers score which samples, with what
// weights and options, and how scoring runs (threads, timeouts, a remote reward server).
//
//   reward:
//     verifiers:                 # the default reward: a weighted sum of verifiers
//       - name: math
//       - name: format
//         weight: 0.1
//         options: {tags: [think, answer]}
//     sources:                   # per data source (a sample's `data_source`)
//       countdown:
//         - name: countdown
//     threads: 0                 # scoring threads (0: one per core)
//     timeout_s: 30              # per sample; a program still running then is a `timeout`
//     addresses: []              # `ponder reward` servers (HOST:PORT; a DNS name stands for
//                                #   every address it resolves to); empty: in-process
//     token: ""                  # shared secret the servers require ($PONDER_REWARD_TOKEN)
//     tls: {cert: "", key: "", ca: ""}  # ca: talk TLS to the servers (rpc/tls_options.h)
//     rpc_timeout_s: 300         # deadline of one Score call (a chunk of a batch)
//     max_attempts: 4            # per chunk, over the servers, with backoff; then the
//                                #   chunk's items are errors (reward/errors)
//     connect_timeout_s: 30      # at start every server must answer within this
//
// Verifier names must be registered (reward/verifier_list.cc) and each `options` block is
// decoded with that verifier's own options type at load time, so a typo in either is a
// config error naming the file and line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/config.h"
#include "reward/group_rewards.h"
#include "rpc/tls_options.h"

namespace ponder::reward {

// One weighted verifier of a composite reward.
struct RewardTermOptions {
  std::string name;   // a registered verifier
  std::string label;  // its key among the result's components (default: the name)
  double weight = 1.0;
  config::Block options;  // the verifier's options

  void Bind(config::Binder& b);
  const std::string& key() const { return label.empty() ? name : label; }
};

// The default reward: `math` with weight 1.
std::vector<RewardTermOptions> DefaultRewardTerms();

struct RewardOptions {
  std::vector<RewardTermOptions> verifiers = DefaultRewardTerms();
  std::map<std::string, std::vector<RewardTermOptions>> sources;
  int64_t threads = 0;
  double timeout_s = 30.0;
  std::vector<std::string> addresses;
  std::string token;
  rpc::TlsOptions tls;
  double rpc_timeout_s = 300.0;
  int64_t max_attempts = 4;
  double connect_timeout_s = 30.0;
  LengthPenaltyOptions length_penalty;
  OverlongOptions overlong;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

}  // namespace ponder::reward
