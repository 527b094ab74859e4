// The YAML config reader and writer (yaml-cpp, in src/config/): strict, with errors naming
// file:line:column. The structs it fills are run_config.hpp's.
#pragma once

#include <string>
#include <vector>

#include "scenecam/run_config.hpp"

namespace scenecam {

// Reads and validates a YAML config; `overrides` are "dotted.key=value" strings applied before
// validation (as --set on the command line). Throws Error naming file:line:column on any problem.
RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The same, from YAML text (tests; the checkpoint's embedded config). `name` stands for the file.
RunConfig parse_config(const std::string& yaml, const std::string& name,
                       const std::vector<std::string>& overrides = {});
// Every value spelled out, as YAML that parse_config reads back to the same RunConfig.
std::string config_to_yaml(const RunConfig& config);
// Every dotted key a config may hold, in the order config_to_yaml writes them (README's config
// reference lists the same keys; a test checks that).
std::vector<std::string> config_keys();

}  // namespace scenecam
