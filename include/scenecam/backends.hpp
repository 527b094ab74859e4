// The backend a run asks for, for every program (scenecam and scenecam-bench alike).
#pragma once

#include <memory>
#include <string>

#include "scenecam/backend.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

// runtime.device "cpu"; "cuda" or "cuda:N" (refused in one line, naming `setting`, when this
// build or this machine has no usable device); "auto": the GPU when there is one, else the CPU,
// printing which and why. threads and workspace_limit_mb are passed on.
std::unique_ptr<Backend> make_backend(const RuntimeConfig& runtime,
                                      const std::string& setting = "runtime.device");

}  // namespace scenecam
