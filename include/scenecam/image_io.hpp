// Image files. The only door to OpenCV: implemented in src/io/ when the build has OpenCV, and by
// functions that answer with a clear error when it does not (SCENECAM_WITH_OPENCV=OFF).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/data.hpp"

namespace scenecam {

// True when this build can read and write image files.
bool image_files_supported();

// Decodes an image file into 8-bit RGB, resized to size x size (area interpolation when
// shrinking, bilinear when enlarging; the aspect ratio is not kept, as the reference does).
// Returns false and sets *why for a file that is missing, empty, truncated, corrupt or not an
// image.
bool read_image_file(const std::string& path, int size, ImageU8* out, std::string* why);

// The same for a file's bytes in memory.
bool decode_image(const std::vector<uint8_t>& bytes, int size, ImageU8* out, std::string* why);

// Writes an RGB image as PNG via a temporary file and a rename. Throws Error on failure.
void write_png(const std::string& path, const ImageU8& image);

}  // namespace scenecam
