// Canvas over an OpenCV matrix (BGR inside, RGB at the door) and the colour-map tables.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "internal/files.hpp"
#include "scenecam/canvas.hpp"
#include "scenecam/error.hpp"

namespace scenecam {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

cv::Scalar bgr(Rgb c) {
  return cv::Scalar(c.b, c.g, c.r);
}

}  // namespace

struct Canvas::Pixels {
  cv::Mat bgr;
};

Canvas::Canvas(int width, int height, Rgb background)
    : pixels_(std::make_unique<Pixels>(Pixels{cv::Mat(height, width, CV_8UC3, bgr(background))})) {}
Canvas::Canvas(Canvas&&) noexcept = default;
Canvas& Canvas::operator=(Canvas&&) noexcept = default;
Canvas::~Canvas() = default;

int Canvas::width() const {
  return pixels_->bgr.cols;
}
int Canvas::height() const {
  return pixels_->bgr.rows;
}

void Canvas::line(Point from, Point to, Rgb colour, int thickness, bool smooth) {
  cv::line(pixels_->bgr, {from.x, from.y}, {to.x, to.y}, bgr(colour), thickness,
           smooth ? cv::LINE_AA : cv::LINE_8);
}

void Canvas::rectangle(Rect r, Rgb colour, int thickness) {
  cv::rectangle(pixels_->bgr, cv::Rect(r.x, r.y, r.width, r.height), bgr(colour),
                thickness == kFilled ? cv::FILLED : thickness);
}

void Canvas::disc(Point centre, int radius, Rgb colour) {
  cv::circle(pixels_->bgr, {centre.x, centre.y}, radius, bgr(colour), cv::FILLED, cv::LINE_AA);
}

void Canvas::text(const std::string& s, Point at, double scale, Rgb colour, int align,
                  int thickness) {
  int base = 0;
  const cv::Size size = cv::getTextSize(s, kFont, scale, thickness, &base);
  const int x = align < 0 ? at.x : align == 0 ? at.x - size.width / 2 : at.x - size.width;
  cv::putText(pixels_->bgr, s, cv::Point(x, at.y + size.height / 2), kFont, scale, bgr(colour),
              thickness, cv::LINE_AA);
}

void Canvas::image(const uint8_t* rgb, int width, int height, Point at, int size) {
  SC_CHECK(at.x >= 0 && at.y >= 0 && at.x + size <= this->width() && at.y + size <= this->height(),
           "Canvas::image: a ", size, "-pixel tile at (", at.x, ", ", at.y, ") leaves the ",
           this->width(), "x", this->height(), " canvas");
  cv::Mat src(height, width, CV_8UC3, const_cast<uint8_t*>(rgb)), converted, scaled;
  cv::cvtColor(src, converted, cv::COLOR_RGB2BGR);
  cv::resize(converted, scaled, {size, size}, 0, 0, cv::INTER_NEAREST);
  scaled.copyTo(pixels_->bgr(cv::Rect(at.x, at.y, size, size)));
}

Canvas Canvas::stack(const std::vector<Canvas>& rows) {
  SC_CHECK(!rows.empty(), "Canvas::stack: no rows");
  std::vector<cv::Mat> mats;
  for (const Canvas& c : rows)
    mats.push_back(c.pixels_->bgr);
  Canvas out(1, 1);
  cv::vconcat(mats, out.pixels_->bgr);
  return out;
}

void Canvas::save_png(const std::string& path) const {
  std::vector<uint8_t> png;
  try {
    SC_CHECK(cv::imencode(".png", pixels_->bgr, png), path, ": could not encode the picture");
  } catch (const cv::Exception& e) {
    fail(path, ": could not encode the picture (", e.what(), ")");
  }
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

std::vector<uint8_t> colormap_table(const std::string& name) {
  const std::pair<const char*, int> maps[] = {
      {"jet", cv::COLORMAP_JET},         {"turbo", cv::COLORMAP_TURBO},
      {"viridis", cv::COLORMAP_VIRIDIS}, {"inferno", cv::COLORMAP_INFERNO},
      {"magma", cv::COLORMAP_MAGMA},     {"hot", cv::COLORMAP_HOT}};
  int code = -1;
  for (const auto& [n, c] : maps)
    if (name == n) code = c;
  SC_CHECK(code >= 0, "unknown colormap '", name, "' (jet, turbo, viridis, inferno, magma, hot)");
  cv::Mat ramp(1, 256, CV_8U), table;
  for (int i = 0; i < 256; ++i)
    ramp.at<uint8_t>(0, i) = uint8_t(i);
  cv::applyColorMap(ramp, table, code);
  std::vector<uint8_t> lut(256 * 3);
  for (int i = 0; i < 256; ++i)
    for (int c = 0; c < 3; ++c)
      lut[i * 3 + c] = table.at<cv::Vec3b>(0, i)[2 - c];
  return lut;
}

}  // namespace scenecam
