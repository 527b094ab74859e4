// --set KEY=VALUE on a valid config: each input line is one override. The reader must accept it
// or say why in a scenecam::Error.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "scenecam/config.hpp"
#include "scenecam/error.hpp"

namespace {

const char* kBase = R"(model:
  arch: resnet18
  classes: 6
data:
  source: synthetic
  image_size: 32
train:
  epochs: 2
  batch_size: 8
  optimizer: {name: sgd, lr: 0.1}
  schedule: {name: cosine, warmup_epochs: 0.5}
output:
  dir: runs/fuzz
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<std::string> sets;
  for (std::string line; std::getline(in, line) && sets.size() < 16;)
    sets.push_back(line);
  try {
    scenecam::parse_config(kBase, "base.yaml", sets);
  } catch (const scenecam::Error&) {
  }
  return 0;
}
