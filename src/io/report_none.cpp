// Reports in a build without OpenCV: one clear error.
#include "scenecam/report.hpp"

namespace scenecam {

ReportResult write_report(const std::string& run_dir, Backend&) {
  fail(run_dir,
       ": this build of scenecam cannot draw reports (built with SCENECAM_WITH_OPENCV=OFF)");
}

}  // namespace scenecam
