#include "scenecam/files.hpp"

#include <cstdio>
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

}  // namespace scenecam
