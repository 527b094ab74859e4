// What the bytes of an image file say before any decoder sees them: which format it is, and
// whether it ends where its format says it must. std only, so the fuzzers and the tests reach it
// without OpenCV.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace scenecam {

enum class ImageFormat { jpeg, png, bmp, unknown };

ImageFormat sniff_image_format(const uint8_t* bytes, size_t size);

// "" when the file is whole as far as its structure shows, else why not: a JPEG needs an
// end-of-image marker after its last start-of-scan, a PNG its IEND chunk. (A decoder given a
// truncated JPEG fills the missing rows with grey and only warns.)
std::string image_truncation_problem(const uint8_t* bytes, size_t size);

// The width and height a JPEG, PNG or BMP header declares; false when the header cannot say.
bool image_header_size(const uint8_t* bytes, size_t size, int64_t* width, int64_t* height);

// The most pixels an image file may declare: a few bytes must not make the decoder allocate
// gigabytes.
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 26;  // 8192 x 8192

}  // namespace scenecam
