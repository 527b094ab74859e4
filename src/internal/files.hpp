// Writing result files: to a temporary name in the same folder, then a rename, so a reader (or a
// crash, or a full disk) never leaves half a file behind.
#pragma once

#include <string>

namespace scenecam {

// Writes `content` to `path` atomically; throws Error naming the file on failure.
void write_file_atomic(const std::string& path, const std::string& content);

// The output folder of a command that reads a checkpoint: `given`, or <checkpoint's folder>/
// `name` when empty; created (with its parents), or an Error naming it.
std::string prepare_output_dir(const std::string& given, const std::string& checkpoint,
                               const std::string& name);

}  // namespace scenecam
