// Image files in a build without OpenCV: every call answers with one clear error.
#include "scenecam/image_io.hpp"

namespace scenecam {

bool image_files_supported() {
  return false;
}

bool read_image_file(const std::string& path, int, ImageU8*, std::string*) {
  fail(path,
       ": this build of scenecam has no image-file support (built with "
       "SCENECAM_WITH_OPENCV=OFF); use a synthetic data source or rebuild with OpenCV");
}

bool decode_image(const std::vector<uint8_t>&, int, ImageU8*, std::string*) {
  fail("this build of scenecam has no image-file support (built with SCENECAM_WITH_OPENCV=OFF)");
}

void write_png(const std::string& path, const ImageU8&) {
  fail(path,
       ": this build of scenecam cannot write PNG files (built with SCENECAM_WITH_OPENCV=OFF)");
}

}  // namespace scenecam
