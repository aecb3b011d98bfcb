// The LibTorch headers that most of our LibTorch translation units need, precompiled once
// and shared by every target made with TORCH (see PonderHelpers.cmake). Measured on 2 cores:
// a TU with these headers takes ~16 s to parse without the PCH and ~7 s with it, while the
// whole <torch/torch.h> as a PCH is ~570 MB and costs ~11 s to load; files that need more
// include it themselves.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/functional.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>
