// The config's field table: every key once, with where its value lives in RunConfig, whether it
// is required, and the rule its value must meet. The reader, the writer (config_to_yaml) and the
// README check (config_keys) all walk this table, in its order.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "scenecam/run_config.hpp"

namespace scenecam::config {

using FieldValue =
    std::variant<std::string*, bool*, int*, int64_t*, uint64_t*, double*, std::vector<int>*,
                 std::vector<float>*, std::vector<std::string>*, std::map<std::string, double>*,
                 Crop*, Optimizer*, Schedule*, OnDevice*, DeviceChoice*>;

struct Field {
  const char* path;                   // dotted: "train.optimizer.lr"
  FieldValue (*value)(RunConfig& c);  // where the value lives
  bool required = false;
  // "" when the value (read after the fields before it) is acceptable, else why not.
  std::string (*check)(const RunConfig& c) = nullptr;
  // Run right after the value is read (a choice that sets other fields' defaults).
  void (*after)(RunConfig& c) = nullptr;
  bool omit_when_empty = false;  // written back only when set (model.blocks, data.root)
  bool (*required_when)(const RunConfig& c) = nullptr;  // required given the fields before it
};

const std::vector<Field>& fields();

// The sections a config must have (the others may be left out).
bool section_required(const std::string& path);

}  // namespace scenecam::config
