// Figures and picture grids, the reports' and explanations' door to OpenCV's drawing (as
// image_io.hpp is to its codecs): an RGB canvas with lines, boxes, discs, text and pasted images,
// written as PNG; and the colour tables of OpenCV's colour maps. Implemented in src/io/ with
// OpenCV; in a build without it, making a canvas or a table fails with one line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace scenecam {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
struct Point {
  int x = 0, y = 0;
  Point operator+(Point o) const { return {x + o.x, y + o.y}; }
};
struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

class Canvas {
 public:
  static constexpr int kFilled = -1;  // a thickness: fill the shape

  Canvas(int width, int height, Rgb background = {255, 255, 255});
  Canvas(Canvas&&) noexcept;
  Canvas& operator=(Canvas&&) noexcept;
  ~Canvas();

  int width() const;
  int height() const;
  // smooth: anti-aliased (the curves); plain lines for grids and frames.
  void line(Point from, Point to, Rgb colour, int thickness = 1, bool smooth = false);
  void rectangle(Rect r, Rgb colour, int thickness = 1);
  void disc(Point centre, int radius, Rgb colour);
  // One line of text, vertically centred on at.y; align -1 starts it at at.x, 0 centres it, 1
  // ends it there.
  void text(const std::string& s, Point at, double scale, Rgb colour, int align = 0,
            int thickness = 1);
  // An RGB image [height, width, 3] scaled (nearest neighbour) to size x size at top-left `at`.
  void image(const uint8_t* rgb, int width, int height, Point at, int size);
  // Canvases of one width, top to bottom.
  static Canvas stack(const std::vector<Canvas>& rows);
  // Writes PNG through a temporary file and a rename; throws Error naming the file.
  void save_png(const std::string& path) const;

 private:
  struct Pixels;
  std::unique_ptr<Pixels> pixels_;
};

// The 256 RGB entries of OpenCV's colour map `name` (jet, turbo, viridis, inferno, magma, hot),
// as a [256 * 3] table; throws naming the maps for any other name.
std::vector<uint8_t> colormap_table(const std::string& name);

}  // namespace scenecam
