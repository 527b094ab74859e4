// Integers from JSON, strictly. nlohmann::json's get<int64_t>() on a floating-point value is a
// plain cast, undefined when the value is out of range (6.7e55 as a tensor dimension); these
// accept JSON integers only, and only within the target type's range.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace scenecam {

template <typename I>
bool json_to_integer(const nlohmann::json& j, I* out) {
  if (!j.is_number_integer()) return false;
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > uint64_t(std::numeric_limits<I>::max())) return false;
    *out = static_cast<I>(v);
    return true;
  }
  const int64_t v = j.get<int64_t>();
  if (v < int64_t(std::numeric_limits<I>::min()) ||
      (v > 0 && uint64_t(v) > uint64_t(std::numeric_limits<I>::max())))
    return false;
  *out = static_cast<I>(v);
  return true;
}

template <typename I>
bool json_to_integers(const nlohmann::json& j, std::vector<I>* out) {
  if (!j.is_array()) return false;
  out->assign(j.size(), 0);
  for (size_t i = 0; i < j.size(); ++i)
    if (!json_to_integer(j[i], &(*out)[i])) return false;
  return true;
}

}  // namespace scenecam
