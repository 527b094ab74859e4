// SHA-256 (FIPS 180-4), for the checksum a run records of the weights it started from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace scenecam {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hex_digest();  // 64 lower-case hex digits; the object is spent afterwards

 private:
  void compress(const uint8_t* block);
  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// The file's SHA-256; throws Error naming the file when it cannot be read.
std::string sha256_of_file(const std::string& path);

}  // namespace scenecam
