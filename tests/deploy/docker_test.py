#!/usr/bin/python3
"""Checks docker/*.Dockerfile without a container engine (none runs on the machines this
project builds on): every file they copy exists in the build context and is not excluded by
.dockerignore; every stage and build argument they use is defined; every Debian package they
install -- named in the Dockerfile or listed by scripts/install-deps.sh for the options they
pass -- exists in Debian 12 (`apt-cache show`); the CMake options and target they build exist;
the binary the runtime stage copies is the one the build stage makes; and the images are the
tags deploy/k8s runs. Packages from NVIDIA's CUDA repository and the LibTorch download cannot
be checked offline: the test only checks that they are pinned to a version."""
import fnmatch
import os
import re
import shlex
import subprocess
import unittest

SOURCE = os.environ.get("PONDER_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILES = {"cpu": "docker/cpu.Dockerfile", "cuda": "docker/cuda.Dockerfile"}
NVIDIA_PACKAGE = re.compile(r"^(cuda-[a-z-]+|lib(cublas|cusparse|cufft|curand|nvjitlink)-dev)-"
                            r"\$\{CUDA_PACKAGE_VERSION\}$")


def instructions(path):
    """(INSTRUCTION, text) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    with open(os.path.join(SOURCE, path)) as f:
        for line in f:
            line = line.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            text = (pending + line).strip()
            pending = ""
            word, _, rest = text.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerignore():
    with open(os.path.join(SOURCE, ".dockerignore")) as f:
        return [p.strip() for p in f if p.strip() and not p.startswith("#")]


def ignored(path, patterns):
    parts = path.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and
                                                    fnmatch.fnmatch(parts[i - 1], pattern[3:])):
                return True
    return False


def apt_packages(run):
    """Packages of `apt-get install` commands in a RUN instruction."""
    out = []
    for command in re.split(r"&&|;", run):
        words = shlex.split(command)
        if "apt-get" in words and "install" in words:
            out += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return out


def install_deps_packages(run):
    """Packages scripts/install-deps.sh installs for the options of a RUN instruction."""
    out = []
    for command in re.split(r"&&|;", run):
        words = shlex.split(command)
        if not words or not words[0].endswith("install-deps.sh"):
            continue
        options = words[1:]
        listed = subprocess.run([os.path.join(SOURCE, "scripts", "install-deps.sh"), "--list"]
                                + options, capture_output=True, text=True, check=False)
        if listed.returncode != 0:
            raise AssertionError(f"install-deps.sh {' '.join(options)}: {listed.stderr}")
        out += listed.stdout.split()
    return out


def debian_package_problems(packages):
    if not packages:
        return []
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(set(packages)),
                           capture_output=True, text=True, check=False)
    found = set(re.findall(r"^Package: (\S+)$", shown.stdout, re.M))
    return [f"no Debian package {p} (run apt-get update if the package lists are missing)"
            for p in sorted(set(packages) - found)]


def check(path):
    """Everything wrong with one Dockerfile."""
    problems, stages, args, debian = [], {}, set(), []
    patterns = dockerignore()
    current = None
    for word, rest in instructions(path):
        if word == "ARG":
            args.add(rest.split("=")[0])
        elif word == "FROM":
            parts = rest.split()
            image = parts[0]
            if not image.startswith("debian:bookworm"):
                problems.append(f"{path}: stage from {image}, not Debian 12 (debian:bookworm)")
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages[current] = []
        elif word == "COPY":
            words = rest.split()
            sources, dest = words[:-1], words[-1]
            frm = [w for w in sources if w.startswith("--from=")]
            sources = [w for w in sources if not w.startswith("--")]
            if frm:
                stage = frm[0].split("=", 1)[1]
                if stage not in stages:
                    problems.append(f"{path}: COPY --from={stage}: no such stage")
                    continue
                for s in sources:
                    made = [d for d in stages[stage] if s == d or s.startswith(d + "/")]
                    if not made:
                        problems.append(f"{path}: COPY --from={stage} {s}: stage {stage} "
                                        "makes no such path")
                stages[current].append(dest.rstrip("/"))
                continue
            for s in sources:
                if not os.path.exists(os.path.join(SOURCE, s)):
                    problems.append(f"{path}: COPY {s}: not in the repository")
                elif s != "." and ignored(s, patterns):
                    problems.append(f"{path}: COPY {s}: excluded by .dockerignore")
            if dest.startswith("/"):
                stages[current].append(dest.rstrip("/"))
        elif word == "RUN":
            for used in re.findall(r"\$\{(\w+)\}", rest):
                if used not in args and used != "PATH":
                    problems.append(f"{path}: RUN uses ${{{used}}}, not an ARG")
            for p in apt_packages(rest):
                if NVIDIA_PACKAGE.match(p):
                    continue  # NVIDIA's repository: pinned by CUDA_PACKAGE_VERSION
                if "$" in p:
                    problems.append(f"{path}: unpinned package {p}")
                else:
                    debian.append(p)
            debian += install_deps_packages(rest)
            for option in re.findall(r"-D(\w+)=", rest):
                with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
                    cmake = f.read()
                if option.startswith("PONDER_") and f"option({option} " not in cmake:
                    problems.append(f"{path}: -D{option}: no such option in CMakeLists.txt")
            for target in re.findall(r"--target (\w+)", rest):
                with open(os.path.join(SOURCE, "cli", "CMakeLists.txt")) as f:
                    if f"ponder_cc_binary(NAME {target}" not in f.read():
                        problems.append(f"{path}: --target {target}: not a binary of cli/")
                builds = re.findall(r"-B (\S+)", rest)
                for b in builds:  # the binary lands in <build>/cli/<target>
                    stages[current].append(f"{b}/cli/{target}")
            for unzip in re.findall(r"unzip -q \S+ -d (\S+)", rest):
                stages[current].append(f"{unzip}/libtorch")
        elif word in ("CMD", "ENTRYPOINT"):
            if '"ponder"' not in rest:
                problems.append(f"{path}: {word} does not run ponder")
    if None not in stages or not any(d == "/usr/local/bin/ponder" for d in stages[None]):
        problems.append(f"{path}: the final stage does not install /usr/local/bin/ponder")
    problems += [f"{path}: {p}" for p in debian_package_problems(debian)]
    return problems, debian


class DockerfileTest(unittest.TestCase):
    def test_every_package_file_stage_and_option_exists(self):
        for name, path in DOCKERFILES.items():
            with self.subTest(image=name):
                problems, debian = check(path)
                self.assertEqual(problems, [])
                self.assertIn("bubblewrap", debian)  # the runtime stage's packages were read
                if name == "cpu":
                    self.assertIn("libtorch1.13", debian)
                else:
                    self.assertNotIn("libtorch-dev", debian)
                    self.assertNotIn("libtorch1.13", debian)

    def test_the_checks_find_missing_files_packages_and_stages(self):
        bad = os.path.join(SOURCE, "docker", ".test-bad.Dockerfile")
        with open(bad, "w") as f:
            f.write("FROM ubuntu:22.04 AS build\nARG X=1\n"
                    "RUN apt-get install -y no-such-package-ponder && cmake -DPONDER_NOPE=1\n"
                    "COPY no/such/file /src/\nCOPY build /x\n"
                    "FROM debian:bookworm-slim\nCOPY --from=builder /a /b\n"
                    "COPY --from=build /missing /c\nCMD [\"sh\"]\n")
        try:
            problems = "\n".join(check("docker/.test-bad.Dockerfile")[0])
        finally:
            os.remove(bad)
        for expected in ("not Debian 12", "no Debian package no-such-package-ponder",
                         "-DPONDER_NOPE: no such option", "COPY no/such/file: not in the "
                         "repository", "COPY --from=builder: no such stage",
                         "COPY --from=build /missing: stage build makes no such path",
                         "CMD does not run ponder", "does not install /usr/local/bin/ponder"):
            self.assertIn(expected, problems)

    def test_deploy_runs_the_images_these_files_build(self):
        for name, path in DOCKERFILES.items():
            with open(os.path.join(SOURCE, path)) as f:
                self.assertIn(f"-t ponder:{name} ", f.read())
            overlay = "cpu" if name == "cpu" else "gpu"
            with open(os.path.join(SOURCE, "deploy", "k8s", "overlays", overlay,
                                   "kustomization.yaml")) as f:
                self.assertIn(f"newTag: {name}", f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
