// The custom-kernel op table (kernel_cases.hpp): seeded inputs, validation against the CPU
// reference, and the cases themselves.
#include "kernel_cases.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "scenecam/elementwise.hpp"

namespace scenecam::bench {

namespace {

// A cheap deterministic generator (splitmix64): filling hundreds of MB through std::mt19937
// would take longer than the benchmark.
uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Host contents for an argument: random inputs (uniform in [-1, 1); labels in [0, 6); pixels in
// [0, 256); crop-and-flip transforms; AdamW's v in [0, 1)), NaN for outputs.
std::vector<char> host_values(const Arg& a, uint64_t seed) {
  std::vector<char> bytes(a.shape.numel() * dtype_size(a.dtype));
  uint64_t state = seed;
  const int64_t n = a.shape.numel();
  if (a.dtype == DType::u8) {
    for (auto& b : bytes)
      b = static_cast<char>(splitmix(state) & 0xff);
  } else if (a.dtype == DType::i32) {
    auto* p = reinterpret_cast<int32_t*>(bytes.data());
    const bool poisoned = a.role == Role::output || a.role == Role::scratch;
    for (int64_t i = 0; i < n; ++i)
      p[i] = poisoned ? INT32_MIN : static_cast<int32_t>(splitmix(state) % 6);
  } else if (a.name == "totals") {
    // Running step totals part-way through a window (StepTotalsField): 2 steps of 7 samples.
    const double before[kStepTotalsFields] = {12.5, 3, 14, 2, 0, 0};
    std::copy_n(before, std::min<int64_t>(n, kStepTotalsFields),
                reinterpret_cast<double*>(bytes.data()));
  } else if (a.name == "sgd_step") {
    // The fields of an SGD step with every option on (sgd_step_to_fields).
    sgd_step_to_fields(SgdStep{0.01f, 0.9f, 1e-3f, true, true}, reinterpret_cast<float*>(bytes.data()));
  } else if (a.name == "adamw_step") {
    // Step 3 of AdamW at its usual betas (adamw_step_to_fields).
    adamw_step_to_fields(AdamWStep{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.271f, 0.002997001f},
                         reinterpret_cast<float*>(bytes.data()));
  } else if (a.name == "transforms_mixed") {
    // Identity, a padded crop, a resized crop and a flip, in turn.
    const SampleTransform kinds[] = {{0, 0, 1, 1, 0, 0},
                                     {-4, 3, 1, 1, 1, 0},
                                     {2, 5, 0.6f, 0.8f, 0, 1},
                                     {0.5f, 0.5f, 1, 1, 1, 1}};
    auto* t = reinterpret_cast<SampleTransform*>(bytes.data());
    for (int64_t i = 0; i < a.shape[0]; ++i)
      t[i] = kinds[i % 4];
  } else if (a.name == "transforms") {
    auto* t = reinterpret_cast<SampleTransform*>(bytes.data());
    for (int64_t i = 0; i < a.shape[0]; ++i) {
      t[i].x0 = t[i].y0 = 3.0f;
      t[i].sx = t[i].sy = 0.875f;  // a resized crop: the bilinear path, the costlier one
      t[i].flip = static_cast<float>(i % 2);
      t[i].bilinear = 1.0f;
    }
  } else if (a.name == "plan") {
    // explain_perturb's copies: every kind in turn, over sources 0..2, mask planes 0..1 and
    // channel 1 (the case's inputs have at least 3 images, 2 planes and 2 channels).
    auto* row = reinterpret_cast<float*>(bytes.data());
    for (int64_t j = 0; j < a.shape[0]; ++j, row += kPlanFields) {
      const float kind = static_cast<float>(j % 5), src = static_cast<float>(j % 3);
      const float params[5][4] = {{0.3f + 0.1f * j, 0, 0, 0},
                                  {0.5f, 0, 0, 0},
                                  {1, 4, 2, 7},
                                  {static_cast<float>(j % 2), -0.5f, 0.8f, 0},
                                  {1, -3, 0, 0}};
      row[0] = src;
      row[1] = kind;
      std::copy_n(params[j % 5], 4, row + 2);
    }
  } else {
    auto* p = reinterpret_cast<float*>(bytes.data());
    if (a.role == Role::output || a.role == Role::scratch) {
      for (int64_t i = 0; i < n; ++i)
        p[i] = std::nanf("");
    } else {
      for (int64_t i = 0; i < n; ++i)
        p[i] = static_cast<float>(static_cast<double>(splitmix(state) >> 11) * 0x1.0p-52 - 1.0);
      // AdamW's second moment is a running mean of squares, CAM activations follow a ReLU, the
      // running variance is positive, and overlay maps lie in [0, 1].
      if (a.name == "v" || a.name == "acts" || a.name == "var" || a.name == "maps")
        for (int64_t i = 0; i < n; ++i)
          p[i] = std::abs(p[i]);
    }
  }
  return bytes;
}

}  // namespace

std::string Case::identifier(size_t index) const {
  std::string name = std::to_string(index) + "_" + kernel + "_" + shape;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.title();
}

Bound::Bound(Backend& be, const Case& c) {
  for (const Arg& a : c.args) {
    pools.push_back(be.make_pool("case " + c.kernel,
                                 a.shape.numel() * dtype_size(a.dtype) + kPoolAlignment, false));
    t.push_back(pools.back()->take(a.shape, a.dtype, a.name));
  }
}

void Bound::upload(Backend& be, const Case& c) {
  for (size_t i = 0; i < c.args.size(); ++i) {
    std::vector<char> v = host_values(c.args[i], 1000 + i);
    be.copy(Tensor(v.data(), c.args[i].shape, c.args[i].dtype, Device::cpu()), t[i]);
  }
}

std::vector<double> Bound::download(Backend& be, int i) {
  const Tensor& x = t[i];
  std::vector<char> bytes(x.nbytes());
  be.copy(x, Tensor(bytes.data(), x.shape(), x.dtype(), Device::cpu()));
  std::vector<double> out(x.numel());
  for (int64_t k = 0; k < x.numel(); ++k) {
    if (x.dtype() == DType::f32) {
      out[k] = reinterpret_cast<const float*>(bytes.data())[k];
    } else if (x.dtype() == DType::f64) {
      out[k] = reinterpret_cast<const double*>(bytes.data())[k];
    } else if (x.dtype() == DType::i32) {
      out[k] = reinterpret_cast<const int32_t*>(bytes.data())[k];
    } else if (x.dtype() == DType::u8) {
      out[k] = reinterpret_cast<const uint8_t*>(bytes.data())[k];
    } else {
      fail("kernel case ", x.str(), ": no download for ", dtype_name(x.dtype()));
    }
  }
  return out;
}

namespace {

// got vs want: every element finite and within rtol relative + atol absolute (u8 outputs: one
// rounding step).
void compare(const Case& c, const std::string& what, const Arg& arg, const std::vector<double>& got,
             const std::vector<double>& want) {
  const double rtol = arg.dtype == DType::u8 ? 0 : c.rtol,
               atol = arg.dtype == DType::u8 ? 1 : c.atol;
  for (size_t i = 0; i < got.size(); ++i) {
    SC_CHECK(std::isfinite(got[i]), "kernel case: ", what, " ", c.title(), ": output '", arg.name,
             "' element ", i, " is ", got[i], " (never written?)");
    SC_CHECK(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]), "kernel case: ", what,
             " ", c.title(), ": output '", arg.name, "' element ", i, " is ", got[i],
             ", the CPU reference says ", want[i]);
  }
}

}  // namespace

void validate(Backend& be, Backend& reference, const Case& c, PeerRunner peer) {
  Bound ours(be, c), ref(reference, c);
  ours.upload(be, c);
  ref.upload(reference, c);
  c.run(be, ours.t);
  c.run(reference, ref.t);
  std::vector<std::vector<double>> outputs(c.args.size());
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i].role == Role::input || c.args[i].role == Role::scratch) continue;
    outputs[i] = ours.download(be, int(i));
    compare(c, "ours", c.args[i], outputs[i], ref.download(reference, int(i)));
  }
  if (peer == nullptr || !c.has_peer) return;
  ours.upload(be, c);
  const Tensor none;
  peer(be, c.peer, ours.t[c.peer_a], c.peer_b >= 0 ? ours.t[c.peer_b] : none, ours.t[c.peer_y]);
  compare(c, "its library peer", c.args[c.peer_y], ours.download(be, c.peer_y), outputs[c.peer_y]);
}

namespace {

// ResNet-18's spatial sides for a square input: layer1 (after the stem and max pool) and layer4.
struct Sides {
  int64_t layer1, layer4;
};
Sides resnet18_sides(int64_t input) {
  int64_t s = (input + 1) / 2;  // conv1, stride 2, padding 3
  s = (s + 1) / 2;              // max pool 3x3/2, padding 1
  const int64_t layer1 = s;
  for (int i = 0; i < 3; ++i)
    s = (s + 1) / 2;  // the first conv of layer2..4, stride 2
  return {layer1, s};
}

std::string shape_text(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i)
    out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

Arg f32(std::string name, Shape shape, Role role) {
  return Arg{std::move(name), std::move(shape), DType::f32, role};
}

using Run = std::function<void(Backend&, const Args&)>;

// Builds a table: every case gets the list's input and batch columns; its bytes default to the
// arguments' total size (each read or written once).
class CaseList {
 public:
  CaseList(std::string input, std::string batch)
      : input_(std::move(input)), batch_(std::move(batch)) {}
  Case& add(std::string kernel, const Shape& shape, std::vector<Arg> args, Run run,
            double bytes = -1) {
    if (bytes < 0) {
      bytes = 0;
      for (const Arg& a : args)
        bytes += double(a.shape.numel()) * dtype_size(a.dtype);
    }
    cases_.push_back({input_, batch_, std::move(kernel), shape_text(shape), std::move(args), bytes,
                      std::move(run)});
    return cases_.back();
  }
  // The last case again, for a second library peer (GPU runs only).
  Case& repeat_for_peer() {
    cases_.push_back(cases_.back());
    cases_.back().peer_only = true;
    return cases_.back();
  }
  std::vector<Case> take() { return std::move(cases_); }

 private:
  std::string input_, batch_;
  std::vector<Case> cases_;
};

// The residual join's kernels at one stage's activation shape.
void residual_cases(CaseList& list, const std::string& stage, const Shape& shape) {
  const double n = shape.numel();
  list.add("add_relu forward " + stage, shape,
           {f32("a", shape, Role::input), f32("b", shape, Role::input),
            f32("y", shape, Role::output)},
           [](Backend& be, const Args& t) { be.add_relu_forward(t[0], t[1], t[2]); })
      .with_peer(LibraryPeer::op_tensor_add_relu, 0, 1, 2);
  list.add("add_relu backward " + stage, shape,
           {f32("y", shape, Role::input), f32("dy", shape, Role::input),
            f32("dsum", shape, Role::output)},
           [](Backend& be, const Args& t) { be.add_relu_backward(t[0], t[1], t[2]); })
      .with_peer(LibraryPeer::activation_backward, 0, 1, 2);
  list.add(
          "add_ (dst += src) " + stage, shape,
          {f32("dst", shape, Role::inout), f32("src", shape, Role::input)},
          [](Backend& be, const Args& t) { be.add_(t[0], t[1]); }, 12 * n)
      .with_peer(LibraryPeer::add_tensor, 1, -1, 0);
  list.repeat_for_peer().with_peer(LibraryPeer::axpy, 1, -1, 0);  // beside cuBLAS this time
}

// gather_batch over a resident set of `stored` images (at least 6: the orders index [0, 6)).
Case& add_gather_case(CaseList& list, const std::string& title, int64_t stored, int64_t batch,
                      int64_t S, const AugmentParams& augment) {
  const Shape all{stored, S, S, 3};
  return list.add(
      "gather_batch (" + title + ")", Shape{batch, 3, S, S},
      {Arg{"pixels", all, DType::u8, Role::input},
       Arg{"all_labels", Shape{stored}, DType::i32, Role::input},
       Arg{"order", Shape{batch}, DType::i32, Role::input},
       f32("transforms", Shape{batch, kTransformFields}, Role::output),
       Arg{"labels", Shape{batch}, DType::i32, Role::output},
       f32("images", Shape{batch, 3, S, S}, Role::output)},
      [augment](Backend& be, const Args& t) {
        be.gather_batch(t[0], t[1], t[2], augment, 0x5eed, Normalization{}, t[3], t[4], t[5]);
      },
      // What a batch moves: its images read, its indices, labels and transforms, its output.
      double(batch) * (S * S * 3 + 3 * 4 + kTransformFields * 4 + 3 * S * S * 4));
}

AugmentParams resized_crop_and_flip() {
  AugmentParams a;
  a.crop = AugmentParams::resized;
  a.flip = 1;
  return a;
}

// Global pooling, the loss and the input pipeline of one step.
void head_and_input_cases(CaseList& list, int64_t S, int64_t B, const Shape& last) {
  constexpr int64_t kClasses = 6;
  const Shape pooled{B, last[1]}, logits{B, kClasses}, pixels{B, S, S, 3};
  list.add("global_avg_pool forward", last,
           {f32("x", last, Role::input), f32("y", pooled, Role::output)},
           [](Backend& be, const Args& t) { be.global_avg_pool_forward(t[0], t[1]); })
      .with_peer(LibraryPeer::avg_pool_forward, 0, -1, 1);
  list.add("global_avg_pool backward", last,
           {f32("dy", pooled, Role::input), f32("dx", last, Role::output)},
           [](Backend& be, const Args& t) { be.global_avg_pool_backward(t[0], t[1]); })
      .with_peer(LibraryPeer::avg_pool_backward, 0, 1, 1);
  list.add(
      "softmax_cross_entropy", logits,
      {f32("logits", logits, Role::input), Arg{"labels", Shape{B}, DType::i32, Role::input},
       f32("loss", Shape{1}, Role::output), f32("dlogits", logits, Role::output)},
      [](Backend& be, const Args& t) { be.softmax_cross_entropy(t[0], t[1], 0.1f, t[2], t[3]); });
  list.add("step_totals_acc", logits,
           {f32("logits", logits, Role::input), Arg{"labels", Shape{B}, DType::i32, Role::input},
            f32("loss", Shape{1}, Role::input),
            Arg{"totals", Shape{kStepTotalsFields}, DType::f64, Role::inout}},
           [](Backend& be, const Args& t) { be.step_totals_acc(t[0], t[1], t[2], t[3]); });
  list.add("augment_batch (u8 -> f32)", pixels,
           {Arg{"pixels", pixels, DType::u8, Role::input},
            f32("transforms", Shape{B, kTransformFields}, Role::input),
            f32("images", Shape{B, 3, S, S}, Role::output)},
           [](Backend& be, const Args& t) { be.augment_batch(t[0], t[1], Normalization{}, t[2]); });
  add_gather_case(list, "resized crop, flip", std::max<int64_t>(2 * B, 6), B, S,
                  resized_crop_and_flip());
}

// Grad-CAM at the last stage (pytorch-grad-cam's default target layer for a ResNet).
void step_cam_cases(CaseList& list, int64_t S, const Shape& last) {
  const int64_t B = last[0];
  const Shape pooled{B, last[1]}, cam{B, last[2], last[3]}, map{B, S, S};
  list.add("cam channel weights", last,
           {f32("grads", last, Role::input), f32("weights", pooled, Role::output)},
           [](Backend& be, const Args& t) { be.cam_channel_weights(t[0], t[1]); })
      .with_peer(LibraryPeer::avg_pool_forward, 0, -1, 1);
  list.add("cam weighted sum + relu", last,
           {f32("acts", last, Role::input), f32("weights", pooled, Role::input),
            f32("cam", cam, Role::output)},
           [](Backend& be, const Args& t) { be.cam_weighted_sum_relu(t[0], t[1], t[2]); });
  Case& scale = list.add(
      "cam scale (resize + min-max)", cam,
      {f32("cam", cam, Role::input), f32("scratch", Shape{cam.numel()}, Role::scratch),
       f32("map", map, Role::output)},
      [](Backend& be, const Args& t) { be.cam_scale(t[0], t[1], t[2]); },
      4.0 * (cam.numel() + map.numel()));
  scale.shape += "->" + std::to_string(S);
}

}  // namespace

Case& Case::with_peer(LibraryPeer library_peer, int a, int b, int y) {
  has_peer = true;
  peer = library_peer;
  peer_a = a;
  peer_b = b;
  peer_y = y;
  return *this;
}

std::vector<Case> step_cases(int64_t S, int64_t B) {
  const Sides sides = resnet18_sides(S);
  CaseList list(std::to_string(S), std::to_string(B));
  residual_cases(list, "layer1", Shape{B, 64, sides.layer1, sides.layer1});
  const Shape last{B, 512, sides.layer4, sides.layer4};
  residual_cases(list, "layer4", last);
  head_and_input_cases(list, S, B, last);
  step_cam_cases(list, S, last);
  return list.take();
}

std::vector<Case> optimizer_cases(int64_t params) {
  const Shape p{params};
  CaseList list("-", "-");
  list.add(
      "sgd update (momentum, nesterov)", p,
      {f32("params", p, Role::inout), f32("grads", p, Role::input),
       f32("momentum", p, Role::inout)},
      [](Backend& be, const Args& t) {
        SgdParams s;
        s.lr = 1e-6f;  // small steps keep the values bounded over many repeats
        s.nesterov = true;
        s.weight_decay = 5e-4f;
        be.sgd_update(s, t[0], t[1], t[2]);
      },
      20.0 * params);
  list.add(
      "adamw update", p,
      {f32("params", p, Role::inout), f32("grads", p, Role::input), f32("m", p, Role::inout),
       f32("v", p, Role::inout)},
      [](Backend& be, const Args& t) {
        AdamWParams adam;
        adam.lr = 1e-6f;
        be.adamw_update(adam, 3, t[0], t[1], t[2], t[3]);
      },
      28.0 * params);
  return list.take();
}

namespace {

// Fill, ReLU, the residual join and add_ over `flat` elements, and misaligned views.
void flat_cases(CaseList& list, int64_t flat) {
  const Shape n{flat}, n1{flat + 1};
  list.add("fill f32", n, {f32("y", n, Role::output)},
           [](Backend& be, const Args& t) { be.fill(t[0], -2.5); });
  list.add("fill i32", n, {Arg{"y", n, DType::i32, Role::output}},
           [](Backend& be, const Args& t) { be.fill(t[0], -7); });
  list.add("relu forward", n, {f32("x", n, Role::input), f32("y", n, Role::output)},
           [](Backend& be, const Args& t) { be.relu_forward(t[0], t[1]); });
  list.add("relu backward", n,
           {f32("y", n, Role::input), f32("dy", n, Role::input), f32("dx", n, Role::output)},
           [](Backend& be, const Args& t) { be.relu_backward(t[0], t[1], t[2]); });
  list.add("add_relu forward", n,
           {f32("a", n, Role::input), f32("b", n, Role::input), f32("y", n, Role::output)},
           [](Backend& be, const Args& t) { be.add_relu_forward(t[0], t[1], t[2]); });
  list.add("add_relu backward", n,
           {f32("y", n, Role::input), f32("dy", n, Role::input), f32("dsum", n, Role::output)},
           [](Backend& be, const Args& t) { be.add_relu_backward(t[0], t[1], t[2]); });
  list.add("add_ (dst += src)", n, {f32("dst", n, Role::inout), f32("src", n, Role::input)},
           [](Backend& be, const Args& t) { be.add_(t[0], t[1]); });
  // Views that start one float in: not 16-byte aligned, so the scalar path runs.
  list.add("add_relu forward (misaligned views)", n1,
           {f32("a", n1, Role::input), f32("b", n1, Role::input), f32("y", n1, Role::output)},
           [flat](Backend& be, const Args& t) {
             be.fill(t[2].slice_flat(0, 1), 0.0);
             be.add_relu_forward(t[0].slice_flat(1, flat + 1), t[1].slice_flat(1, flat + 1),
                                 t[2].slice_flat(1, flat + 1));
           });
}

// Every SGD variant over `flat` parameters.
void sgd_cases(CaseList& list, int64_t flat) {
  const Shape p{flat};
  auto sgd_case = [&](std::string name, float momentum, bool nesterov, float wd, bool decoupled) {
    std::vector<Arg> args{f32("params", p, Role::inout), f32("grads", p, Role::input)};
    if (momentum != 0) args.push_back(f32("momentum", p, Role::inout));
    list.add(std::move(name), p, std::move(args), [=](Backend& be, const Args& t) {
      SgdParams s;
      s.lr = 0.01f;
      s.momentum = momentum;
      s.nesterov = nesterov;
      s.weight_decay = wd;
      s.decoupled_weight_decay = decoupled;
      be.sgd_update(s, t[0], t[1], momentum != 0 ? t[2] : Tensor());
    });
  };
  sgd_case("sgd update (no momentum)", 0.0f, false, 0.0f, false);
  sgd_case("sgd update (momentum, L2 decay)", 0.9f, false, 1e-3f, false);
  sgd_case("sgd update (nesterov, decoupled decay)", 0.9f, true, 1e-3f, true);
  // The same updates with their numbers read from device memory, as a recorded step runs them.
  list.add("sgd update from device fields", p,
           {f32("params", p, Role::inout), f32("grads", p, Role::input),
            f32("momentum", p, Role::inout), f32("sgd_step", Shape{kSgdStepFields}, Role::input)},
           [](Backend& be, const Args& t) { be.sgd_update_from(t[3], t[0], t[1], t[2]); });
  list.add("adamw update from device fields", p,
           {f32("params", p, Role::inout), f32("grads", p, Role::input), f32("m", p, Role::inout),
            f32("v", p, Role::inout), f32("adamw_step", Shape{kAdamWStepFields}, Role::input)},
           [](Backend& be, const Args& t) { be.adamw_update_from(t[4], t[0], t[1], t[2], t[3]); });
}

// Batch norm's inference backward, global pooling and every Grad-CAM op at 37 channels.
void pooling_and_cam_cases(CaseList& list) {
  for (const Shape& s : {Shape{3, 5, 7, 9}, Shape{7, 11}})
    list.add("batch_norm backward (inference, eps 1e-3)", s,
             {f32("dy", s, Role::input), f32("gamma", Shape{s[1]}, Role::input),
              f32("var", Shape{s[1]}, Role::input), f32("dx", s, Role::output)},
             [](Backend& be, const Args& t) {
               BatchNormParams bn;
               bn.eps = 1e-3;
               be.batch_norm_backward_inference(bn, t[0], t[1], t[2], t[3]);
             });
  for (const Shape& s : {Shape{3, 37, 5, 7}, Shape{1, 3, 33, 35}, Shape{2, 3, 1, 1}}) {
    const Shape g{s[0], s[1]}, cam{s[0], s[2], s[3]};
    list.add("global_avg_pool forward", s, {f32("x", s, Role::input), f32("y", g, Role::output)},
             [](Backend& be, const Args& t) { be.global_avg_pool_forward(t[0], t[1]); });
    list.add("global_avg_pool backward", s, {f32("dy", g, Role::input), f32("dx", s, Role::output)},
             [](Backend& be, const Args& t) { be.global_avg_pool_backward(t[0], t[1]); });
    list.add("cam channel weights", s,
             {f32("grads", s, Role::input), f32("weights", g, Role::output)},
             [](Backend& be, const Args& t) { be.cam_channel_weights(t[0], t[1]); });
    list.add("cam weighted sum + relu", s,
             {f32("acts", s, Role::input), f32("weights", g, Role::input),
              f32("cam", cam, Role::output)},
             [](Backend& be, const Args& t) { be.cam_weighted_sum_relu(t[0], t[1], t[2]); });
    static const char* const kMethods[] = {"gradcam",  "gradcam++", "xgradcam",
                                           "hirescam", "layercam",  "gradcam-elementwise"};
    for (int index = 0; index < 6; ++index) {
      const auto method = static_cast<CamMethod>(index);  // the gradient methods come first
      list.add(
          std::string("cam maps ") + kMethods[index], s,
          {f32("acts", s, Role::input), f32("grads", s, Role::input),
           f32("weights", Shape{s[0] * s[1]}, Role::scratch), f32("cam", cam, Role::output)},
          [method](Backend& be, const Args& t) { be.cam_maps(method, t[0], t[1], t[2], t[3]); });
    }
  }
}

// Scaling, overlays, augmentation, the dense layer and softmax over 1000 classes.
void image_and_head_cases(CaseList& list) {
  const Shape small{3, 7, 5}, big{3, 37, 29}, maps{3, 29, 29}, rgb{3, 29, 29, 3};
  list.add("cam scale (resize + min-max)", big,
           {f32("cam", small, Role::input), f32("scratch", Shape{small.numel()}, Role::scratch),
            f32("map", big, Role::output)},
           [](Backend& be, const Args& t) { be.cam_scale(t[0], t[1], t[2]); });
  list.add("cam overlay", rgb,
           {f32("maps", maps, Role::input), Arg{"images", rgb, DType::u8, Role::input},
            Arg{"lut", Shape{256, 3}, DType::u8, Role::input}, f32("hi", Shape{3}, Role::scratch),
            Arg{"overlay", rgb, DType::u8, Role::output}},
           [](Backend& be, const Args& t) { be.cam_overlay(t[0], t[1], t[2], 0.5f, t[3], t[4]); });
  const Shape inputs{3, 5, 13, 11}, copies{11, 5, 13, 11};
  list.add("explain_perturb (blend, noise, patch, mask, ablate)", copies,
           {f32("x", inputs, Role::input), f32("plan", Shape{11, kPlanFields}, Role::input),
            f32("base", Shape{5}, Role::input), f32("planes", Shape{3, 2, 4, 3}, Role::input),
            f32("copies", copies, Role::output)},
           [](Backend& be, const Args& t) { be.explain_perturb(t[0], t[1], t[2], t[3], 7, t[4]); });
  AugmentParams padded;
  padded.crop = AugmentParams::pad;
  padded.padding = 4;
  padded.flip = 1;
  add_gather_case(list, "padded crop, flip", 11, 7, 29, padded);
  add_gather_case(list, "resized crop, flip", 6, 9, 37, resized_crop_and_flip());
  add_gather_case(list, "identity", 7, 3, 13, AugmentParams{});
  const Shape pixels{5, 37, 37, 3};
  list.add("augment_batch (identity, padded, resized, flipped)", pixels,
           {Arg{"pixels", pixels, DType::u8, Role::input},
            f32("transforms_mixed", Shape{5, kTransformFields}, Role::input),
            f32("images", Shape{5, 3, 37, 37}, Role::output)},
           [](Backend& be, const Args& t) { be.augment_batch(t[0], t[1], Normalization{}, t[2]); });
  for (auto [rows, in, out] : {std::tuple{int64_t(37), int64_t(300), int64_t(6)},
                               std::tuple{int64_t(1), int64_t(7), int64_t(1000)}}) {
    const Shape x{rows, in}, w{out, in}, b{out}, y{rows, out};
    list.add("linear forward + backward", x,
             {f32("x", x, Role::input), f32("w", w, Role::input), f32("b", b, Role::input),
              f32("dy", y, Role::input), f32("y", y, Role::output), f32("dx", x, Role::output),
              f32("dw", w, Role::output), f32("db", b, Role::output)},
             [](Backend& be, const Args& t) {
               be.linear_forward(t[0], t[1], t[2], t[4]);
               be.linear_backward(t[0], t[1], t[3], t[5], t[6], t[7]);
             });
    for (float smoothing : {0.0f, 0.1f})
      list.add(std::string("softmax_cross_entropy (smoothing ") + (smoothing > 0 ? "0.1)" : "0)"),
               y,
               {f32("logits", y, Role::input), Arg{"labels", Shape{rows}, DType::i32, Role::input},
                f32("loss", Shape{1}, Role::output), f32("dlogits", y, Role::output)},
               [smoothing](Backend& be, const Args& t) {
                 be.softmax_cross_entropy(t[0], t[1], smoothing, t[2], t[3]);
               });
    list.add("step_totals_acc", y,
             {f32("logits", y, Role::input), Arg{"labels", Shape{rows}, DType::i32, Role::input},
              f32("loss", Shape{1}, Role::input),
              Arg{"totals", Shape{kStepTotalsFields}, DType::f64, Role::inout}},
             [](Backend& be, const Args& t) { be.step_totals_acc(t[0], t[1], t[2], t[3]); });
  }
}

}  // namespace

std::vector<Case> odd_size_cases(int64_t flat) {
  CaseList list("-", "-");
  flat_cases(list, flat);
  sgd_cases(list, flat);
  pooling_and_cam_cases(list);
  image_and_head_cases(list);
  return list.take();
}

}  // namespace scenecam::bench
