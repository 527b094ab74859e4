// The YAML config reader on arbitrary text: it must answer with a config or a scenecam::Error,
// and anything else (another exception, a crash, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scenecam/config.hpp"
#include "scenecam/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const scenecam::RunConfig config = scenecam::parse_config(text, "fuzz.yaml");
    // What was accepted writes back and reads back to the same config.
    const std::string yaml = scenecam::config_to_yaml(config);
    if (scenecam::config_to_yaml(scenecam::parse_config(yaml, "back.yaml")) != yaml) __builtin_trap();
  } catch (const scenecam::Error&) {
  }
  return 0;
}
