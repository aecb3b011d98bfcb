// Where a trainer rank sits, from the environment torchrun and Slurm set, and the
// `distributed:` section.
#include "trainer/distributed_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "trainer/job_config.h"

namespace ponder::trainer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

absl::StatusOr<RankEnv> FromEnv(const std::map<std::string, std::string>& vars) {
  return RankEnvFromEnvironment([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(RankEnvTest, NoVariablesIsOneRank) {
  auto env = FromEnv({});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 0);
  EXPECT_EQ(env->world_size, 1);
  EXPECT_FALSE(env->distributed());
}

TEST(RankEnvTest, ReadsTorchrunsVariables) {
  auto env = FromEnv({{"RANK", "3"},
                      {"WORLD_SIZE", "4"},
                      {"LOCAL_RANK", "1"},
                      {"MASTER_ADDR", "trainer-0.ponder-trainer"},
                      {"MASTER_PORT", "29400"},
                      {"GLOO_SOCKET_IFNAME", "eth0"},
                      // Slurm's are ignored when torchrun's are there.
                      {"SLURM_PROCID", "0"},
                      {"SLURM_NTASKS", "8"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "trainer-0.ponder-trainer");
  EXPECT_EQ(env->master_port, 29400);
  EXPECT_EQ(env->gloo_interface, "eth0");
  EXPECT_EQ(env->source, "RANK/WORLD_SIZE");
}

TEST(RankEnvTest, FallsBackToSlurmAndItsNodeListForTheMasterAddress) {
  auto env = FromEnv({{"SLURM_PROCID", "5"},
                      {"SLURM_NTASKS", "8"},
                      {"SLURM_LOCALID", "1"},
                      {"SLURM_STEP_NODELIST", "gpu[07-08,12],cpu1"},
                      {"SLURM_JOB_NODELIST", "other"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "gpu07");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_EQ(env->source, "SLURM_PROCID/SLURM_NTASKS");

  env = FromEnv({{"SLURM_PROCID", "0"},
                 {"SLURM_NTASKS", "2"},
                 {"SLURM_JOB_NODELIST", "node3"},
                 {"MASTER_ADDR", "10.1.2.3"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->master_addr, "10.1.2.3");  // an explicit MASTER_ADDR wins
}

TEST(RankEnvTest, SlurmHostLists) {
  EXPECT_EQ(*FirstSlurmHost("node1"), "node1");
  EXPECT_EQ(*FirstSlurmHost("node[003-010]"), "node003");
  EXPECT_EQ(*FirstSlurmHost("a[2,5-6]b,c[1-3]"), "a2b");
  EXPECT_EQ(*FirstSlurmHost("x-1,x-2"), "x-1");
  for (const char* bad : {"", "node[1-2", "node]1[", "node[]"}) {
    auto host = FirstSlurmHost(bad);
    ASSERT_FALSE(host.ok()) << bad;
    EXPECT_THAT(std::string(host.status().message()), HasSubstr("Slurm host list")) << bad;
  }
}

TEST(RankEnvTest, BadValuesNameTheVariable) {
  struct Case {
    std::map<std::string, std::string> vars;
    std::string message;
  };
  const Case cases[] = {
      {{{"RANK", "one"}, {"WORLD_SIZE", "2"}}, "RANK='one' is not an integer"},
      {{{"RANK", "0"}}, "RANK is set but WORLD_SIZE is not"},
      {{{"WORLD_SIZE", "2"}}, "WORLD_SIZE is set but RANK is not"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}},
       "rank 2 (RANK/WORLD_SIZE) is outside [0, 2)"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "0"}}, "world size 0 (RANK/WORLD_SIZE) must be >= 1"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR is not set"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}},
       "MASTER_PORT=70000 is not a TCP port"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "-1"}, {"MASTER_ADDR", "h"}},
       "local rank -1 must be >= 0"},
      {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "x"}}, "SLURM_NTASKS='x' is not an integer"},
      {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}},
       "neither is SLURM_STEP_NODELIST or SLURM_JOB_NODELIST"},
      {{{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "n[1"}},
       "MASTER_ADDR from the Slurm node list: 'n[1' is not a Slurm host list"},
  };
  for (const Case& c : cases) {
    auto env = FromEnv(c.vars);
    ASSERT_FALSE(env.ok()) << c.message;
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(env.status().message()), HasSubstr(c.message));
  }
}

TEST(DistributedOptionsTest, ReadsTheSectionAndChecksIt) {
  auto job = config::LoadString<JobConfig>(
      "distributed: {backend: gloo, timeout_s: 30, heartbeat_s: 1, bucket_mb: 4}\n", "job.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->distributed.backend, DistributedBackend::kGloo);
  EXPECT_DOUBLE_EQ(job->distributed.timeout_s, 30.0);
  EXPECT_DOUBLE_EQ(job->distributed.bucket_mb, 4.0);

  job = config::LoadString<JobConfig>("distributed: {backend: mpi}\n", "job.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              AllOf(HasSubstr("distributed.backend"), HasSubstr("job.yaml")));

  job = config::LoadString<JobConfig>("distributed: {timeout_s: 3, heartbeat_s: 2}\n", "job.yaml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("heartbeat_s (2) must be at most half of timeout_s (3)"));
}

}  // namespace
}  // namespace ponder::trainer
