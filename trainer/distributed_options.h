// Data-parallel trainer ranks: where this process sits (read from the environment that
// torchrun, Slurm and the Kubernetes manifests in deploy/ set) and the `distributed:` section
// of the job config.
//
//   distributed:
//     backend: auto          # gloo (CPU), nccl (CUDA builds), auto: nccl when the model is
//                            # on a GPU and LibTorch has NCCL, else gloo
//     timeout_s: 300         # a collective that does not finish, or a rank that sends no
//                            # heartbeat for this long, ends the job with a message naming it
//     init_timeout_s: 600    # every rank must join the rendezvous within this
//     heartbeat_s: 2         # how often each rank says it is alive
//     bucket_mb: 25          # gradients are summed over ranks in buckets of this size,
//                            # each one as soon as backward has produced it
//
// The environment (one process per rank):
//   RANK, WORLD_SIZE, LOCAL_RANK     torchrun's names; without RANK and WORLD_SIZE, Slurm's
//                                    SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID
//   MASTER_ADDR, MASTER_PORT         rank 0's host and the rendezvous port (default 29500);
//                                    under Slurm MASTER_ADDR defaults to the first host of
//                                    SLURM_STEP_NODELIST (or SLURM_JOB_NODELIST)
//   GLOO_SOCKET_IFNAME               optional: the network interface Gloo uses
// Without any of them the job has one rank.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "base/config.h"

namespace ponder::trainer {

enum class DistributedBackend { kAuto, kGloo, kNccl };

struct DistributedOptions {
  DistributedBackend backend = DistributedBackend::kAuto;
  double timeout_s = 300.0;
  double init_timeout_s = 600.0;
  double heartbeat_s = 2.0;
  double bucket_mb = 25.0;

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

// This process's place among the trainer ranks.
struct RankEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr;  // empty for a single rank
  int master_port = 29500;
  std::string gloo_interface;  // GLOO_SOCKET_IFNAME
  std::string source;          // which variables said so, for messages

  bool distributed() const { return world_size > 1; }
};

// Reads the environment through `getenv` (std::getenv by default). A malformed or
// inconsistent value is InvalidArgument naming the variable and its value.
using EnvLookup = std::function<const char*(const char*)>;
absl::StatusOr<RankEnv> RankEnvFromEnvironment(const EnvLookup& getenv = nullptr);

// The first host of a Slurm host list: "node[03-05,9],gpu1" -> "node03".
absl::StatusOr<std::string> FirstSlurmHost(const std::string& nodelist);

}  // namespace ponder::trainer
