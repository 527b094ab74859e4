// safetensors reading and writing, with nlohmann::json for the header.
#include "scenecam/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "internal/files.hpp"
#include "internal/json_numbers.hpp"

namespace scenecam {
namespace {

const char* st_dtype(DType d) {
  switch (d) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::f16:
      return "F16";
    case DType::bf16:
      return "BF16";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType* out) {
  for (DType d : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::u8, DType::i32})
    if (s == st_dtype(d)) {
      *out = d;
      return true;
    }
  return false;
}

// The bytes per element of every dtype the format defines, 0 for a word it does not. Tensors of
// a dtype the engine has no DType for (I64: PyTorch's num_batches_tracked) are listed and can be
// skipped; only reading them fails.
size_t st_dtype_size(const std::string& s) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  const auto it = sizes.find(s);
  return it == sizes.end() ? 0 : it->second;
}

}  // namespace

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, Backend& backend) {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SC_CHECK(!header.contains(name), path, ": tensor '", name, "' is written twice");
    std::vector<int64_t> shape;
    for (int i = 0; i < t.rank(); ++i)
      shape.push_back(t.dim(i));
    header[name] = {{"dtype", st_dtype(t.dtype())},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // the data section starts 8-byte aligned

  AtomicFile out(path);
  const uint64_t n = text.size();
  out.write(&n, sizeof n);  // little-endian hosts only (x86, Arm)
  out.write(text);
  std::vector<char> staging;
  for (const auto& [name, t] : tensors) {
    staging.resize(t.nbytes());
    backend.copy(t, Tensor(staging.data(), t.shape(), t.dtype(), Device::cpu()));
    out.write(staging.data(), staging.size());
  }
  out.commit();
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  SC_CHECK(in.good(), path, ": cannot open the checkpoint (", error_text(errno), ")");
  const auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), sizeof n);
  SC_CHECK(in && size >= 8 && n <= size - 8 && n < (uint64_t(1) << 30), path,
           ": not a safetensors file (bad header length)");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  data_.resize(size - 8 - n);
  in.read(data_.data(), static_cast<std::streamsize>(data_.size()));
  SC_CHECK(in.good() || data_.empty(), path, ": truncated");
  parse_header(text);
}

SafetensorsFile::SafetensorsFile(const std::string& name, const std::string& bytes) : path_(name) {
  uint64_t n = 0;
  if (bytes.size() >= 8) std::memcpy(&n, bytes.data(), 8);
  SC_CHECK(bytes.size() >= 8 && n <= bytes.size() - 8 && n < (uint64_t(1) << 30), name,
           ": not a safetensors file (bad header length)");
  data_.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  parse_header(bytes.substr(8, n));
}

void SafetensorsFile::parse_header(const std::string& text) {
  const std::string& path = path_;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not a safetensors file (header is not JSON: ", e.what(), ")");
  }
  SC_CHECK(header.is_object(), path, ": not a safetensors file (header is not a JSON object)");

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      SC_CHECK(value.is_object(), path, ": __metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        SC_CHECK(v.is_string(), path, ": metadata '", k, "' is not a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      Entry e{};
      e.dtype_word = value.at("dtype").get<std::string>();
      const size_t element_size = st_dtype_size(e.dtype_word);
      SC_CHECK(element_size > 0, path, ": tensor '", name, "' has an unknown dtype '", e.dtype_word,
               "'");
      e.known = parse_dtype(e.dtype_word, &e.dtype);
      std::vector<int64_t> dims;
      SC_CHECK(json_to_integers(value.at("shape"), &dims), path, ": tensor '", name,
               "' has a shape that is not a list of integers");
      SC_CHECK(dims.size() <= size_t(Shape::kMaxRank), path, ": tensor '", name, "' has rank ",
               dims.size());
      uint64_t elements = 1;  // bounded by the file's size, so numel() cannot overflow
      for (int64_t d : dims) {
        SC_CHECK(d >= 0, path, ": tensor '", name, "' has a negative dimension");
        SC_CHECK(d == 0 || elements <= data_.size() / uint64_t(d), path, ": tensor '", name,
                 "' has more elements than the file has bytes");
        elements *= uint64_t(d);
      }
      const Shape s(dims);
      e.shape = s;
      std::vector<uint64_t> offsets;
      SC_CHECK(json_to_integers(value.at("data_offsets"), &offsets), path, ": tensor '", name,
               "' has data_offsets that are not two byte positions");
      SC_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && offsets[1] <= data_.size() &&
                   offsets[1] - offsets[0] == uint64_t(s.numel()) * element_size,
               path, ": tensor '", name, "' has a byte range that does not fit the file");
      e.begin = offsets[0];
      e.end = offsets[1];
      entries_[name] = e;
    } catch (const nlohmann::json::exception& ex) {
      fail(path, ": tensor '", name, "' has a malformed header entry (", ex.what(), ")");
    }
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_)
    out.push_back(kv.first);
  return out;
}

Shape SafetensorsFile::shape(const std::string& name) const {
  auto it = entries_.find(name);
  SC_CHECK(it != entries_.end(), path_, ": no tensor '", name, "'");
  return it->second.shape;
}

void SafetensorsFile::read_into(const std::string& name, const Tensor& dst,
                                Backend& backend) const {
  auto it = entries_.find(name);
  SC_CHECK(it != entries_.end(), path_, ": tensor '", name, "' is missing from the checkpoint");
  const Entry& e = it->second;
  SC_CHECK(e.shape == dst.shape(), path_, ": tensor '", name, "' has shape ", e.shape.str(),
           " in the checkpoint but ", dst.shape().str(), " in the model");
  SC_CHECK(e.known && e.dtype == dst.dtype(), path_, ": tensor '", name, "' is ", e.dtype_word,
           " in the checkpoint but ", dtype_name(dst.dtype()), " in the model");
  const char* bytes = data_.data() + e.begin;
  if (e.dtype == DType::f32) {
    // A diverged run's weights must not load as a model that answers NaN.
    const int64_t n = e.shape.numel();
    for (int64_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, bytes + 4 * i, 4);
      SC_CHECK(std::isfinite(v), path_, ": tensor '", name, "' holds ", v, " (at index ", i,
               "); the checkpoint is from a run that diverged");
    }
  }
  backend.copy(Tensor(const_cast<char*>(bytes), e.shape, e.dtype, Device::cpu()), dst);
}

}  // namespace scenecam
