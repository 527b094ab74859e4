// Image files through OpenCV (core, imgproc, imgcodecs).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>

#include "scenecam/image_io.hpp"

namespace scenecam {

bool image_files_supported() {
  return true;
}

bool read_image_file(const std::string& path, int size, ImageU8* out, std::string* why) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec) {
    *why = "cannot read (" + ec.message() + ")";
    return false;
  }
  if (bytes == 0) {
    *why = "empty file";
    return false;
  }
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, cv::IMREAD_COLOR);
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
  const std::string tmp = path + ".tmp.png";
  bool ok = false;
  try {
    ok = cv::imwrite(tmp, bgr);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": could not write the PNG (disk full or folder missing?)");
  }
}

}  // namespace scenecam
