# Uniform targets: one library per folder (ponder_<folder>, alias ponder::<folder>), test
# binaries labelled for CTest, and one shared precompiled header for LibTorch users.

# A LibTorch translation unit spends 10-20 s parsing LibTorch's headers; every TORCH target
# reuses this one precompiled header (cmake/torch_pch.h) instead.
function(_ponder_torch_pch)
  if(TARGET ponder_torch_pch)
    return()
  endif()
  set(stub "${CMAKE_CURRENT_BINARY_DIR}/ponder_torch_pch.cc")
  file(WRITE "${stub}" "// Holds the shared LibTorch precompiled header.\n")
  add_library(ponder_torch_pch OBJECT "${stub}")
  target_link_libraries(ponder_torch_pch PUBLIC ${TORCH_LIBRARIES})
  # Targets that also link gRPC get -pthread from re2 (it defines _REENTRANT), and a precompiled
  # header is only used when the flags match: every LibTorch user compiles with -pthread.
  target_compile_options(ponder_torch_pch PRIVATE -pthread)
  target_precompile_headers(ponder_torch_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/torch_pch.h)
endfunction()

function(_ponder_use_torch target)
  _ponder_torch_pch()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    # The shared header is compiled with -fPIC; CMake would give an executable -fPIE, and GCC
    # rejects a precompiled header built with a different setting. PIC code links fine into
    # the (default PIE) executable.
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  # -fpch-preprocess: when ccache preprocesses a file it keeps the header as a reference to
  # the .gch instead of expanding all of LibTorch's headers again.
  target_compile_options(${target} PRIVATE -pthread -fpch-preprocess)
  target_precompile_headers(${target} REUSE_FROM ponder_torch_pch)
endfunction()

# ponder_cc_library(NAME folder SRCS a.cc ... [PLAIN_SRCS b.cc ...] [DEPS targets...] [TORCH])
# With TORCH, SRCS get the shared LibTorch precompiled header; PLAIN_SRCS are sources of the
# same library that do not include LibTorch and are compiled without it (loading the PCH
# alone costs several seconds per file).
function(ponder_cc_library)
  cmake_parse_arguments(ARG "TORCH" "NAME" "SRCS;PLAIN_SRCS;DEPS" ${ARGN})
  set(target ponder_${ARG_NAME})
  add_library(${target} ${ARG_SRCS} ${ARG_PLAIN_SRCS})
  if(ARG_PLAIN_SRCS)
    set_source_files_properties(${ARG_PLAIN_SRCS} TARGET_DIRECTORY ${target}
                                PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
  add_library(ponder::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  if(ARG_TORCH)
    _ponder_use_torch(${target})
  endif()
endfunction()

# ponder_cc_binary(NAME exe SRCS ... [DEPS ...] [TORCH])
function(ponder_cc_binary)
  cmake_parse_arguments(ARG "TORCH" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  if(ARG_TORCH)
    _ponder_use_torch(${ARG_NAME})
  endif()
endfunction()

# ponder_cc_test(NAME bin SRCS ... [DEPS ...] [LABELS slow|e2e ...] [TORCH] [NETNS])
# TORCH: the test's own sources include LibTorch (they get the PCH); a test that only links
# a LibTorch library through DEPS does not need it.
# NETNS: the test runs in a network namespace of its own with only loopback up
# (tests/netns_run.sh), for servers that cannot be told to bind loopback (c10d's TCPStore).
# Each test binary is one CTest test; the default `make test` run skips labels `slow` and
# `e2e`. Tests run from the source root so that they find tests/data.
function(ponder_cc_test)
  cmake_parse_arguments(ARG "TORCH;NETNS" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  if(ARG_TORCH)
    _ponder_use_torch(${ARG_NAME})
  endif()
  # One CTest test per binary: a process per test case would spend most of the suite's time
  # starting processes (about 0.9 s each with LibTorch loaded). A failure prints the failing
  # cases (ctest --output-on-failure); `BIN --gtest_filter=...` reruns one.
  set(command $<TARGET_FILE:${ARG_NAME}>)
  if(ARG_NETNS)
    set(command ${PROJECT_SOURCE_DIR}/tests/netns_run.sh ${command})
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${command} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Where tests/testing.h finds the repository and this build tree. They come through the
  # environment, not compile definitions, so that the objects do not depend on where the tree
  # is checked out and ccache serves every clone and worktree.
  set_tests_properties(${ARG_NAME} PROPERTIES ENVIRONMENT
    "PONDER_SOURCE_DIR=${PROJECT_SOURCE_DIR};PONDER_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
