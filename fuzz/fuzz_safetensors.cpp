// A checkpoint's bytes: the safetensors reader, then what the engine reads from a checkpoint (its
// tensors, training state, classes and config). Each step must succeed or throw scenecam::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/backend.hpp"
#include "scenecam/checkpoint.hpp"
#include "scenecam/error.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/run_config.hpp"
#include "scenecam/safetensors.hpp"

namespace {

template <typename F>
void attempt(F f) {
  try {
    f();
  } catch (const scenecam::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto backend = scenecam::make_cpu_backend(1);
  try {
    const scenecam::SafetensorsFile file("fuzz.safetensors",
                                         std::string(reinterpret_cast<const char*>(data), size));
    for (const std::string& name : file.names()) {
      const scenecam::Shape shape = file.shape(name);
      if (shape.numel() > (1 << 16)) continue;
      std::vector<double> storage(shape.numel() + 1);  // room for any dtype up to 8 bytes
      for (scenecam::DType dtype : {scenecam::DType::f32, scenecam::DType::i32}) {
        const scenecam::Tensor dst(storage.data(), shape, dtype, scenecam::Device::cpu());
        attempt([&] { file.read_into(name, dst, *backend); });
      }
    }
    attempt([&] { scenecam::read_checkpoint_info(file); });
    attempt([&] { scenecam::checkpoint_classes(file); });
    attempt([&] { scenecam::checkpoint_config(file); });
  } catch (const scenecam::Error&) {
  }
  return 0;
}
