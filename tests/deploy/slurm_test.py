#!/usr/bin/python3
"""Runs deploy/slurm/ponder.sbatch with sbatch, srun and scontrol replaced by local stand-ins
(tests/deploy/slurm_standins) that start every task on this machine: a real job -- reward
server, rollout worker and two trainer ranks -- on three "nodes" that are loopback addresses
(127.0.0.1-3). CTest runs it in a network namespace of its own (tests/netns_run.sh), where
the servers' wildcard listen addresses reach nothing but loopback.

Checks the placement (trainer ranks on the first node, rollout on the second, reward on the
third, every step with --kill-on-bad-exit), that the job trains and checkpoints, that the
servers are stopped when it ends, that a failing trainer ends the job with its exit code,
and the script's own errors."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("PONDER_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("PONDER_BINARY_DIR") or os.path.join(SOURCE, "build")
PONDER = os.path.join(BINARY, "cli", "ponder")
SCRIPT = os.path.join(SOURCE, "deploy", "slurm", "ponder.sbatch")
STANDINS = os.path.join(SOURCE, "tests", "deploy", "slurm_standins")
NODES = "127.0.0.1,127.0.0.2,127.0.0.3"


class SlurmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ponder-slurm-")
        # A model folder every role starts from: the tiny job's policy after one step.
        init = cls.run_ponder(["train", "--config", os.path.join(SOURCE, "configs", "tiny.yaml"),
                               "run.dir=" + os.path.join(cls.tmp, "init"), "trainer.steps=1",
                               "eval.every=0", "eval.at_end=false"])
        assert init.returncode == 0, init.stderr
        model = os.path.join(cls.tmp, "init", "checkpoints", "step_1", "policy")
        cls.config = os.path.join(cls.tmp, "job.yaml")
        with open(os.path.join(SOURCE, "configs", "tiny.yaml")) as f:
            tiny = f.read()
        with open(cls.config, "w") as f:
            f.write(tiny)
        cls.overrides = [f"model.path={model}", "model.tokenizer=", "trainer.steps=2",
                         "eval.every=0", "eval.at_end=false", "checkpoint.every=0",
                         "checkpoint.at_end=true", "distributed.timeout_s=20",
                         "distributed.heartbeat_s=0.5"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    @staticmethod
    def run_ponder(args):
        return subprocess.run([PONDER] + args, capture_output=True, text=True, check=False,
                              timeout=300)

    def sbatch(self, name, args, **env):
        log = os.path.join(self.tmp, name + ".steps.jsonl")
        full_env = dict(os.environ, PATH=STANDINS + os.pathsep + os.environ["PATH"],
                        STANDIN_NODES=NODES, STANDIN_LOG=log, PONDER_BIN=PONDER,
                        PONDER_STARTUP_TIMEOUT="120", **env)
        out = subprocess.run(["sbatch", SCRIPT] + args, capture_output=True, text=True,
                             check=False, env=full_env, cwd=self.tmp, timeout=600)
        steps = []
        if os.path.exists(log):
            with open(log) as f:
                steps = [json.loads(line) for line in f]
        return out, steps

    def assert_no_server_left(self):
        # Only this job's servers (they carry its config): other tests may run servers of
        # their own beside this one.
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            for role in ("rollout", "reward"):
                self.assertFalse(line.startswith(f"{PONDER} {role} --listen")
                                 and f"--config {self.config}" in line, line)

    def test_places_the_roles_and_trains(self):
        run_dir = os.path.join(self.tmp, "run")
        out, steps = self.sbatch("train", [self.config, f"run.dir={run_dir}"] + self.overrides,
                                 PONDER_RANKS_PER_NODE="2")
        self.assertEqual(out.returncode, 0, out.stderr)
        roles = {s["command"][1]: s for s in steps}
        self.assertEqual(sorted(roles), ["reward", "rollout", "train"])
        self.assertEqual(roles["train"]["nodes"], ["127.0.0.1"])
        self.assertEqual(roles["train"]["ntasks"], 2)
        self.assertEqual(roles["train"]["env"]["MASTER_ADDR"], "127.0.0.1")
        self.assertEqual(roles["rollout"]["nodes"], ["127.0.0.2"])
        self.assertEqual(roles["reward"]["nodes"], ["127.0.0.3"])
        for s in steps:
            self.assertTrue(s["kill_on_bad_exit"], s["command"])
        train = roles["train"]["command"]
        self.assertIn("--auto-resume", train)
        self.assertIn("rollout.addresses=[127.0.0.2:50051]", train)
        self.assertIn("reward.addresses=[127.0.0.3:50052]", train)
        self.assertFalse(any("reward.token" in a for a in train))  # the token is in the env
        self.assertTrue(os.path.isdir(os.path.join(run_dir, "checkpoints", "step_2")))
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 2)
        self.assertRegex(out.stderr, r"distributed: rank 1 \(host [^)]*\) of 2 ranks")
        self.assert_no_server_left()

        # The same command again: the trainer resumes from step 2 and, with more steps, goes on.
        out, _ = self.sbatch("again", [self.config, f"run.dir={run_dir}"] + self.overrides
                             + ["trainer.steps=3"], PONDER_RANKS_PER_NODE="1")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("resuming from checkpoint step 2", out.stderr)
        self.assertTrue(os.path.isdir(os.path.join(run_dir, "checkpoints", "step_3")))

    def test_a_failing_trainer_ends_the_job_and_its_servers(self):
        out, steps = self.sbatch("fail", [self.config, "run.dir=" + os.path.join(
            self.tmp, "fail")] + self.overrides + ["data.train_files=[/nonexistent.jsonl]",
                                                   "data.task.name="])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("trainer finished with exit code", out.stderr)
        self.assertIn("/nonexistent.jsonl", out.stderr)
        self.assert_no_server_left()

    def test_bad_settings_are_named(self):
        out, _ = self.sbatch("few", [self.config], PONDER_TRAINER_NODES="2")
        self.assertEqual(out.returncode, 2)
        self.assertIn("2 trainer + 1 rollout + 1 reward nodes need 4 nodes; the allocation "
                      "has 3", out.stderr)
        out, _ = self.sbatch("port", [self.config], PONDER_REWARD_PORT="x")
        self.assertIn("reward_port must be a positive integer (got 'x')", out.stderr)
        out, _ = self.sbatch("noconfig", [os.path.join(self.tmp, "missing.yaml")])
        self.assertIn("no job config at", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
