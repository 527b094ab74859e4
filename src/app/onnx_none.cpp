// A build without Debian's ONNX and protobuf libraries: export says how to get them.
#include "scenecam/error.hpp"
#include "scenecam/export.hpp"

namespace scenecam {

bool onnx_export_supported() {
  return false;
}

void export_onnx(const std::string&, const std::string&) {
  fail(
      "export: this build has no ONNX writer (install libonnx-dev and libprotobuf-dev, then "
      "configure again)");
}

}  // namespace scenecam
