// One table of custom-kernel op cases, shared by three users: `scenecam-bench kernels` (which
// validates, then times them), the CUDA parity tests (the CUDA backend against the CPU one) and
// the emulated kernel tests (the kernels' real source run on the CPU in CI).
//
// A case is one Backend op at one shape: its arguments (with roles), the bytes one call must move
// at least, and the call. validate() runs a case on a backend and on the CPU reference with the
// same seeded inputs, outputs poisoned with NaN first, and compares every output element.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "library_peers.hpp"
#include "scenecam/backend.hpp"

namespace scenecam::bench {

enum class Role { input, output, inout, scratch };  // scratch: written, not compared

struct Arg {
  std::string name;  // also picks the input values: see host_values() in kernel_cases.cpp
  Shape shape;
  DType dtype;
  Role role;
};

using Args = std::vector<Tensor>;

// One kernel at one shape. Optionally the library routine that does the same job, with the
// arguments it takes (indices into args: a, b, y; -1 = not used).
struct Case {
  std::string input, batch, kernel, shape;
  std::vector<Arg> args;
  double bytes;
  std::function<void(Backend&, const Args&)> run;
  bool has_peer = false;
  LibraryPeer peer{};
  int peer_a = -1, peer_b = -1, peer_y = -1;
  bool peer_only = false;  // a repeat of the previous kernel for a second peer: GPU runs only
  double rtol = 1e-4, atol = 1e-5;
  std::string title() const { return kernel + " " + shape; }
  // This case with library peer `peer`, which takes arguments a, b, y (indices; -1: not used).
  Case& with_peer(LibraryPeer peer, int a, int b, int y);
  // A test name: the index in its table, then the title with every other character as '_'.
  std::string identifier(size_t index) const;
};

// How GoogleTest prints a case (found by argument-dependent lookup).
void PrintTo(const Case& c, std::ostream* os);

// A case's arguments as tensors of one backend, one pool per argument (so a pool with guard
// bytes puts a guard after each).
struct Bound {
  std::vector<std::unique_ptr<Pool>> pools;
  Args t;
  Bound(Backend& be, const Case& c);
  void upload(Backend& be, const Case& c);
  // The argument's elements as doubles (f32, i32 and u8 arguments).
  std::vector<double> download(Backend& be, int i);
};

// Runs a library peer (run_library_peer of cuda_backend.hpp on the CUDA backend). Passed in, so
// that the table itself links against no backend.
using PeerRunner = void (*)(Backend&, LibraryPeer, const Tensor& a, const Tensor& b,
                            const Tensor& y);

// Throws Error naming the case, the output and the element when `be` and `reference` disagree
// or an output was left unwritten; then, given a peer runner, checks the case's library peer (if
// it has one) against our output.
void validate(Backend& be, Backend& reference, const Case& c, PeerRunner peer = nullptr);

// Every kernel at the shapes a ResNet-18 training step (and a Grad-CAM batch) produces for a
// square input of side `input` and batch `batch`.
std::vector<Case> step_cases(int64_t input, int64_t batch);
// SGD and AdamW over a flat arena of `params` elements (ResNet-18: 11689512).
std::vector<Case> optimizer_cases(int64_t params);
// The rest of the custom-kernel ops, at sizes that are multiples of nothing: flat element-wise
// ops (fill, ReLU, the residual join, add_, misaligned views) over `flat` elements, batch norm's
// inference backward with a non-default epsilon, pooling and every gradient CAM method with 37
// channels, overlay, scaling, the dense layer and softmax over 1000 classes, all SGD variants.
std::vector<Case> odd_size_cases(int64_t flat);

}  // namespace scenecam::bench
