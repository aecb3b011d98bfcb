# Finds every third-party package once, in an order that keeps LibTorch's CMake config from
# defining its own protobuf targets before the real ones exist.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # The sloppiness settings let ccache cache translation units that use a precompiled header.
  # CCACHE_BASEDIR makes the paths in each command relative to the source root, so that a
  # fresh clone elsewhere (CI) or a second worktree hits the same cache entries.
  set(PONDER_CCACHE ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1
      ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PONDER_CCACHE})
endif()

find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
# Debian builds cpp-httplib as a library with TLS and compression on; its pkg-config flags
# must reach every user of the header, or the class layouts would not match.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# The dashboard page's chart library comes from the npm registry at build time (monitor/), or,
# on a machine without the registry (the GPU check, scripts/gpu-check.sh), from
# PONDER_UPLOT_DIR: a folder that `npm ci` filled elsewhere with node_modules/uplot.
set(PONDER_UPLOT_DIR "" CACHE PATH "node_modules/uplot fetched elsewhere (skips npm)")
find_program(NPM_PROGRAM npm)
if(NOT NPM_PROGRAM AND NOT PONDER_UPLOT_DIR)
  message(FATAL_ERROR "npm not found: the dashboard page needs it at build time to fetch its "
                      "chart library (run scripts/install-deps.sh)")
endif()
# Exact big rationals for the math verifier (reward/internal/math_value.h).
pkg_check_modules(GMPXX REQUIRED IMPORTED_TARGET gmpxx)

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

find_package(Torch REQUIRED)
if(PONDER_WITH_CUDA AND NOT TORCH_CUDA_LIBRARIES)
  message(FATAL_ERROR "PONDER_WITH_CUDA=ON but the LibTorch found at ${Torch_DIR} has no CUDA "
                      "support; point CMAKE_PREFIX_PATH at a CUDA build of LibTorch.")
endif()

if(PONDER_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(PONDER_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
