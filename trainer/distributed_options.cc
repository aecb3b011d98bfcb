#include "trainer/distributed_options.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void DistributedOptions::Bind(config::Binder& b) {
  b.Enum("backend", backend,
         {{"auto", DistributedBackend::kAuto},
          {"gloo", DistributedBackend::kGloo},
          {"nccl", DistributedBackend::kNccl}});
  b.Field("timeout_s", timeout_s).GreaterThan(0.0);
  b.Field("init_timeout_s", init_timeout_s).GreaterThan(0.0);
  b.Field("heartbeat_s", heartbeat_s).GreaterThan(0.0);
  b.Field("bucket_mb", bucket_mb).GreaterThan(0.0);
}

absl::Status DistributedOptions::Validate() const {
  if (heartbeat_s * 2 > timeout_s) {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat_s (", heartbeat_s, ") must be at most half of timeout_s (",
                     timeout_s, "): a rank is declared lost after timeout_s without heartbeats"));
  }
  return absl::OkStatus();
}

namespace {

// An integer environment variable, or nullopt when unset.
absl::StatusOr<std::optional<int64_t>> IntVar(const EnvLookup& getenv, const char* name) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return std::optional<int64_t>();
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, "='", text, "' is not an integer"));
  }
  return std::optional<int64_t>(value);
}

}  // namespace

absl::StatusOr<std::string> FirstSlurmHost(const std::string& nodelist) {
  // The first item at bracket depth 0, then the first number of its first range.
  size_t end = 0;
  int depth = 0;
  for (; end < nodelist.size(); ++end) {
    const char c = nodelist[end];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
  }
  const std::string item = nodelist.substr(0, end);
  const size_t open = item.find('[');
  if (item.empty() || depth != 0 ||
      (open == std::string::npos) != (item.find(']') == std::string::npos)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", nodelist, "' is not a Slurm host list (e.g. node[01-04],gpu7)"));
  }
  if (open == std::string::npos) return item;
  const size_t close = item.find(']', open);
  const std::string ranges = item.substr(open + 1, close - open - 1);
  const size_t first_end = ranges.find_first_of("-,");
  const std::string first = ranges.substr(0, first_end);
  if (first.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", nodelist, "' is not a Slurm host list (empty range)"));
  }
  return item.substr(0, open) + first + item.substr(close + 1);
}

namespace {

// MASTER_PORT and MASTER_ADDR (under Slurm, by default the first host of the step's nodes).
absl::Status ReadMaster(const EnvLookup& getenv, bool slurm, RankEnv& env) {
  auto port = IntVar(getenv, "MASTER_PORT");
  if (!port.ok()) return port.status();
  if (port->has_value()) {
    if (**port < 1 || **port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable MASTER_PORT=", **port,
                                                     " is not a TCP port (1-65535)"));
    }
    env.master_port = static_cast<int>(**port);
  }
  if (const char* addr = getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
    env.master_addr = addr;
  } else if (slurm) {
    const char* nodes = getenv("SLURM_STEP_NODELIST");
    if (nodes == nullptr || *nodes == '\0') nodes = getenv("SLURM_JOB_NODELIST");
    if (nodes == nullptr || *nodes == '\0') {
      return absl::InvalidArgumentError(
          "environment: MASTER_ADDR is not set and neither is SLURM_STEP_NODELIST or "
          "SLURM_JOB_NODELIST; export MASTER_ADDR=<host of rank 0>");
    }
    auto first = FirstSlurmHost(nodes);
    if (!first.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "environment: MASTER_ADDR from the Slurm node list: ", first.status().message()));
    }
    env.master_addr = *first;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "environment: ", env.world_size, " ranks (", env.source,
        ") but MASTER_ADDR is not set; export MASTER_ADDR=<host of rank 0> (and MASTER_PORT)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RankEnv> RankEnvFromEnvironment(const EnvLookup& lookup) {
  const EnvLookup getenv = lookup ? lookup : [](const char* name) { return std::getenv(name); };
  RankEnv env;
  auto rank = IntVar(getenv, "RANK");
  auto world = IntVar(getenv, "WORLD_SIZE");
  auto local = IntVar(getenv, "LOCAL_RANK");
  if (!rank.ok()) return rank.status();
  if (!world.ok()) return world.status();
  if (!local.ok()) return local.status();
  bool slurm = false;
  if (rank->has_value() || world->has_value()) {
    if (!rank->has_value() || !world->has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment: ", rank->has_value() ? "RANK" : "WORLD_SIZE", " is set but ",
                       rank->has_value() ? "WORLD_SIZE" : "RANK",
                       " is not; set both (as torchrun does) or neither"));
    }
    env.source = "RANK/WORLD_SIZE";
  } else {
    rank = IntVar(getenv, "SLURM_PROCID");
    world = IntVar(getenv, "SLURM_NTASKS");
    local = IntVar(getenv, "SLURM_LOCALID");
    if (!rank.ok()) return rank.status();
    if (!world.ok()) return world.status();
    if (!local.ok()) return local.status();
    if (!rank->has_value() || !world->has_value()) return env;  // one rank
    env.source = "SLURM_PROCID/SLURM_NTASKS";
    slurm = true;
  }
  env.rank = **rank;
  env.world_size = **world;
  env.local_rank = local->value_or(0);
  if (env.world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("environment: world size ", env.world_size, " (",
                                                   env.source, ") must be >= 1"));
  }
  if (env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("environment: rank ", env.rank, " (", env.source,
                                                   ") is outside [0, ", env.world_size, ")"));
  }
  if (env.local_rank < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment: local rank ", env.local_rank, " must be >= 0"));
  }
  if (const char* ifname = getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr) {
    env.gloo_interface = ifname;
  }
  if (!env.distributed()) return env;
  if (absl::Status s = ReadMaster(getenv, slurm, env); !s.ok()) return s;
  return env;
}

}  // namespace ponder::trainer
