// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor
// (dtype, shape, byte range) plus a "__metadata__" map of strings, then the raw data. Files are
// written to a temporary name and renamed, so a reader never sees half a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "scenecam/backend.hpp"

namespace scenecam {

// Writes the named tensors (any device the backend can copy from) and string metadata.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, Backend& backend);

class SafetensorsFile {
 public:
  // Reads and validates the whole file; throws Error naming the file and the problem.
  explicit SafetensorsFile(const std::string& path);
  // The same from a file's bytes in memory; `name` stands for the file in messages.
  SafetensorsFile(const std::string& name, const std::string& bytes);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;
  Shape shape(const std::string& name) const;
  // Copies tensor `name` into `dst` (same dtype and shape, any device); throws on a mismatch,
  // naming the tensor and both shapes.
  void read_into(const std::string& name, const Tensor& dst, Backend& backend) const;

 private:
  void parse_header(const std::string& text);

  struct Entry {
    std::string dtype_word;  // as the file spells it: "F32", "I64", ...
    bool known;              // the engine has a DType for it
    DType dtype;
    Shape shape;
    size_t begin, end;
  };
  std::string path_;
  std::vector<char> data_;  // the data section
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace scenecam
