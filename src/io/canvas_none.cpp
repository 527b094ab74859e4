// Canvas in a build without OpenCV: making one (or a colour table) answers with one clear error.
#include "scenecam/canvas.hpp"
#include "scenecam/error.hpp"

namespace scenecam {
namespace {

[[noreturn]] void no_opencv(const char* what) {
  fail("this build of scenecam cannot ", what, " (built with SCENECAM_WITH_OPENCV=OFF)");
}

}  // namespace

struct Canvas::Pixels {};

Canvas::Canvas(int, int, Rgb) {
  no_opencv("draw figures");
}
Canvas::Canvas(Canvas&&) noexcept = default;
Canvas& Canvas::operator=(Canvas&&) noexcept = default;
Canvas::~Canvas() = default;
int Canvas::width() const {
  return 0;
}
int Canvas::height() const {
  return 0;
}
void Canvas::line(Point, Point, Rgb, int, bool) {}
void Canvas::rectangle(Rect, Rgb, int) {}
void Canvas::disc(Point, int, Rgb) {}
void Canvas::text(const std::string&, Point, double, Rgb, int, int) {}
void Canvas::image(const uint8_t*, int, int, Point, int) {}
Canvas Canvas::stack(const std::vector<Canvas>&) {
  no_opencv("draw figures");
}
void Canvas::save_png(const std::string&) const {}
std::vector<uint8_t> colormap_table(const std::string&) {
  no_opencv("colour maps");
}

}  // namespace scenecam
