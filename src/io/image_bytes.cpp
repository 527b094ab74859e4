#include "io/image_bytes.hpp"

#include <cstdlib>
#include <cstring>

namespace scenecam {

ImageFormat sniff_image_format(const uint8_t* b, size_t n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return ImageFormat::jpeg;
  if (n >= 8 && std::memcmp(b, kPng, 8) == 0) return ImageFormat::png;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::bmp;
  return ImageFormat::unknown;
}

namespace {

// Inside a JPEG's entropy-coded data every 0xFF byte is followed by 0x00 or a restart marker,
// and the thumbnails in its APP segments come before the main image's scans, so the last
// start-of-scan (FF DA) in the file is the main image's and its end (FF D9) must follow.
std::string jpeg_problem(const uint8_t* b, size_t n) {
  size_t last_scan = 0;
  for (size_t i = 0; i + 1 < n; ++i)
    if (b[i] == 0xff && b[i + 1] == 0xda) last_scan = i;
  if (last_scan == 0) return "truncated JPEG (no image data)";
  for (size_t i = last_scan + 2; i + 1 < n; ++i)
    if (b[i] == 0xff && b[i + 1] == 0xd9) return "";
  return "truncated JPEG (it ends inside its image data)";
}

// A PNG is chunks after its signature: length (4, big-endian), type (4), data, CRC (4); it ends
// with IEND. Walking the chunk lengths finds a file cut anywhere.
std::string png_problem(const uint8_t* b, size_t n) {
  size_t at = 8;
  while (at + 12 <= n) {
    const uint64_t length = (uint64_t(b[at]) << 24) | (uint64_t(b[at + 1]) << 16) |
                            (uint64_t(b[at + 2]) << 8) | uint64_t(b[at + 3]);
    if (std::memcmp(b + at + 4, "IEND", 4) == 0) return "";
    if (length > n - at - 12) break;
    at += 12 + length;
  }
  return "truncated PNG (no IEND chunk)";
}

uint32_t big_endian(const uint8_t* b, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | b[i];
  return v;
}

// The frame header (SOF0..SOF15 but DHT, JPG and DAC) gives the size; the segments before it
// are skipped by their lengths.
bool jpeg_size(const uint8_t* b, size_t n, int64_t* w, int64_t* h) {
  size_t at = 2;
  while (at + 4 <= n && b[at] == 0xff) {
    const uint8_t marker = b[at + 1];
    const size_t length = big_endian(b + at + 2, 2);
    const bool frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 &&
                       marker != 0xcc;
    if (frame) {
      if (at + 9 > n) return false;
      *h = big_endian(b + at + 5, 2);
      *w = big_endian(b + at + 7, 2);
      return true;
    }
    if (length < 2) return false;
    at += 2 + length;
  }
  return false;
}

}  // namespace

bool image_header_size(const uint8_t* b, size_t n, int64_t* w, int64_t* h) {
  switch (sniff_image_format(b, n)) {
    case ImageFormat::jpeg:
      return jpeg_size(b, n, w, h);
    case ImageFormat::png:
      if (n < 24) return false;
      *w = big_endian(b + 16, 4);
      *h = big_endian(b + 20, 4);
      return true;
    case ImageFormat::bmp: {
      if (n < 26) return false;
      int32_t bw, bh;  // little-endian; a negative height means top-down rows
      std::memcpy(&bw, b + 18, 4);
      std::memcpy(&bh, b + 22, 4);
      *w = std::abs(int64_t(bw));
      *h = std::abs(int64_t(bh));
      return true;
    }
    default:
      return false;
  }
}

std::string image_truncation_problem(const uint8_t* bytes, size_t size) {
  switch (sniff_image_format(bytes, size)) {
    case ImageFormat::jpeg:
      return jpeg_problem(bytes, size);
    case ImageFormat::png:
      return png_problem(bytes, size);
    default:
      return "";  // BMP and the rest: the decoder's checks are all there is
  }
}

}  // namespace scenecam
