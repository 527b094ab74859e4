#include "internal/files.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "scenecam/error.hpp"

namespace scenecam {

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  SC_CHECK(out.good(), path, ": cannot create the file (missing folder or no permission?)");
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out.good()) {
    std::remove(tmp.c_str());
    fail(path, ": writing failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": could not move the finished file into place");
  }
}

std::string prepare_output_dir(const std::string& given, const std::string& checkpoint,
                               const std::string& name) {
  namespace fs = std::filesystem;
  const std::string dir =
      given.empty() ? (fs::path(checkpoint).parent_path() / name).string() : given;
  std::error_code ec;
  fs::create_directories(dir, ec);
  SC_CHECK(!ec, dir, ": cannot create the output folder (", ec.message(), ")");
  return dir;
}

}  // namespace scenecam
