// Image files through OpenCV (core, imgproc, imgcodecs).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "internal/files.hpp"
#include "io/image_bytes.hpp"
#include "scenecam/image_io.hpp"

namespace scenecam {

bool image_files_supported() {
  return true;
}

namespace {

// The file's bytes, or false with *why.
bool read_file_bytes(const std::string& path, std::vector<uint8_t>* bytes, std::string* why) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *why = "a folder, not an image file";
    return false;
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) {
    *why = "cannot read (" + error_text(errno) + ")";
    return false;
  }
  const std::streamoff size = in.tellg();
  if (size <= 0) {
    *why = size == 0 ? "empty file" : "cannot read (" + error_text(errno) + ")";
    return false;
  }
  bytes->resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes->data()), size);
  if (!in.good()) {
    *why = "cannot read (" + error_text(errno) + ")";
    return false;
  }
  return true;
}

}  // namespace

bool read_image_file(const std::string& path, int size, ImageU8* out, std::string* why) {
  std::vector<uint8_t> bytes;
  return read_file_bytes(path, &bytes, why) && decode_image(bytes, size, out, why);
}

bool decode_image(const std::vector<uint8_t>& bytes, int size, ImageU8* out, std::string* why) {
  if (bytes.empty()) {
    *why = "empty file";
    return false;
  }
  // Only the formats scenecam reads: OpenCV would also try every other decoder it has.
  if (sniff_image_format(bytes.data(), bytes.size()) == ImageFormat::unknown) {
    *why = "not a decodable image (not JPEG, PNG or BMP)";
    return false;
  }
  *why = image_truncation_problem(bytes.data(), bytes.size());
  if (!why->empty()) return false;
  int64_t width = 0, height = 0;
  if (image_header_size(bytes.data(), bytes.size(), &width, &height) &&
      double(width) * double(height) > double(kMaxImagePixels)) {
    *why = "declares " + std::to_string(width) + "x" + std::to_string(height) +
           " pixels, more than the limit of " + std::to_string(kMaxImagePixels);
    return false;
  }
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);  // reads the buffer, does not keep it
  } catch (const cv::Exception& e) {
    bgr.release();
  }
  if (bgr.empty()) {
    *why = "not a decodable image";
    return false;
  }
  cv::Mat resized;
  const bool shrink = bgr.cols >= size && bgr.rows >= size;
  cv::resize(bgr, resized, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat rgb;
  cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
  out->height = out->width = size;
  out->rgb.assign(rgb.data, rgb.data + static_cast<size_t>(size) * size * 3);
  return true;
}

void write_png(const std::string& path, const ImageU8& image) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> png;
  bool ok = false;
  try {
    ok = cv::imencode(".png", bgr, png);
  } catch (const cv::Exception&) {
    ok = false;
  }
  SC_CHECK(ok, path, ": could not encode the PNG (", image.width, "x", image.height, ")");
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

}  // namespace scenecam
