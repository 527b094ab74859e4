// Writing result files: to a temporary name in the same folder, then a rename, so a reader (or a
// crash, or a full disk) never leaves half a file behind.
#pragma once

#include <string>

namespace scenecam {

// Writes `content` to `path` atomically; throws Error naming the file on failure.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace scenecam
