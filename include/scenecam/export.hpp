// Deployment export: a checkpoint's network as an ONNX model.
//
// The model takes "input", float32 [batch, 3, S, S]: RGB pixels / 255, at the run's image size
// (the batch dimension is dynamic). The run's normalisation, (x - mean) / std, is the graph's
// first two nodes. Outputs: "logits" and "probabilities" (softmax), [batch, classes]. Batch norm
// is in inference mode (running statistics). The class names, the image size and the
// normalisation are in the model's metadata_props. Opset kOnnxOpset, IR version 7.
#pragma once

#include <string>

namespace scenecam {

inline constexpr int kOnnxOpset = 13;

// True when this build can write ONNX (Debian's libonnx-dev and libprotobuf-dev were found).
bool onnx_export_supported();

// Writes `checkpoint`'s network to `out_path` (atomically), after ONNX's own model checker passed
// it. Throws Error naming the file and the problem.
void export_onnx(const std::string& checkpoint, const std::string& out_path);

}  // namespace scenecam
