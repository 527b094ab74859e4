// An image file's bytes: the structure checks (format, truncation, declared size), then the
// decoder, which must return an image of the asked size or false with a reason.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image_bytes.hpp"
#include "scenecam/data.hpp"
#include "scenecam/image_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int64_t width = 0, height = 0;
  scenecam::image_header_size(data, size, &width, &height);
  scenecam::image_truncation_problem(data, size);
  const std::vector<uint8_t> bytes(data, data + size);
  scenecam::ImageU8 image;
  std::string why;
  if (scenecam::decode_image(bytes, 20, &image, &why)) {
    if (image.width != 20 || image.height != 20 || image.rgb.size() != 20 * 20 * 3)
      __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();  // a refusal must say why
  }
  return 0;
}
