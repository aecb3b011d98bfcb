# The README's commands. Every target that builds first installs missing Debian packages
# (scripts/install-deps.sh: a fast no-op when everything is present).
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-slow test-all check-torch2 bench sanitize format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Watch it learn: a tiny model, SFT then RL with a verifier beside a continued-SFT control,
# about 10 minutes on 2 CPU cores after the build (docs/demo.md). Builds only the binary.
# `make demo DEMO_ARGS=...` passes options, e.g. DEMO_ARGS="--minutes 20 run.seed=2".
DEMO_ARGS ?=
demo: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target ponder
	$(BUILD_DIR)/cli/ponder demo $(DEMO_ARGS)

# The default suite: everything but the `slow` and `e2e` labels (about a few minutes), and
# but `gpu` (tests that need a CUDA device; scripts/gpu-check.sh runs them on a GPU machine).
test: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) -LE 'slow|e2e|gpu' --output-on-failure

# Longer suites: learning tests and multi-process end-to-end tests.
test-slow: build
	cd $(BUILD_DIR) && ctest -j 1 -L 'slow|e2e' --output-on-failure

test-all: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure

# The tree compiled against LibTorch 2.x headers, in a CPU and a CUDA pass (docs/gpu.md):
# scripts/check-torch2.sh fetches Debian trixie's libtorch-dev into a private folder. It needs
# only the configured build folder (its compile_commands.json).
check-torch2: $(BUILD_DIR)/build.ninja
	scripts/check-torch2.sh $(BUILD_DIR)

# Benchmarks (bench/): a Release build of its own; `make bench BENCH="tokenizer decode"` runs
# only those named.
bench: deps
	[ -f build-bench/build.ninja ] || cmake -S . -B build-bench -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release -DPONDER_BUILD_TESTS=OFF -DPONDER_BUILD_BENCHMARKS=ON $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS)
	BUILD_DIR=build-bench bench/run.sh $(BENCH)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, in a separate build tree.
sanitize: deps
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_FLAGS="-DPONDER_SANITIZE=ON $(CMAKE_FLAGS)"

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-asan build-bench
