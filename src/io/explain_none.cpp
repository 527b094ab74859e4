// Explanations in a build without OpenCV: overlays need it, so the command says so.
#include "scenecam/explain_run.hpp"

namespace scenecam {

int64_t run_explain(const ExplainOptions& o, Backend&) {
  fail(o.checkpoint,
       ": this build of scenecam cannot write explanation overlays (built with "
       "SCENECAM_WITH_OPENCV=OFF)");
}

}  // namespace scenecam
