// The helpers `scenecam explain`'s files share (explain_outputs.hpp).
#include <filesystem>

#include "app/explain_outputs.hpp"

namespace scenecam {
namespace fs = std::filesystem;

std::string npy(const float* data, const std::vector<int64_t>& shape) {
  std::string dims;  // "2, 3", or "3," for one dimension (a Python tuple)
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    count *= d;
  }
  if (shape.size() == 1) dims += ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += char(len & 0xff);
  out += char(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(data), size_t(count) * sizeof(float));
  return out;
}

ImageU8 rgb_image(const uint8_t* rgb, int S) {
  ImageU8 img;
  img.height = img.width = S;
  img.rgb.assign(rgb, rgb + size_t(S) * S * 3);
  return img;
}

std::string stem_of(const std::string& file, int64_t index) {
  return file.empty() ? "synthetic_" + std::to_string(index) : fs::path(file).stem().string();
}

}  // namespace scenecam
