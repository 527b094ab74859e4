// scenecam-bench kernels: the custom memory-bound kernels (residual add+ReLU, ReLU backward,
// global pooling, the optimizer updates, dst += src) at sizes a ResNet-18 step produces, with the
// achieved bandwidth beside the device's copy bandwidth measured in the same run (a device-to-
// device copy moves 8 bytes per float: one read, one write).
#include <cstdio>

#include "bench_util.hpp"
#include "scenecam/backend.hpp"

namespace scenecam::bench {

std::unique_ptr<Backend> bench_backend(const std::string& device, int threads);

int run_kernels(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"}, {"batch", "32"}, {"repeats", "20"}, {"threads", "0"}, {"json", ""}});
  const int64_t B = flags.integer("batch");
  const int repeats = static_cast<int>(flags.integer("repeats"));
  SC_CHECK(B >= 1 && repeats >= 3, "need --batch >= 1 and --repeats >= 3");
  auto be = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));

  // layer1's activation of ResNet-18 at 224 (the largest the step produces), and the parameter
  // arena of ResNet-18 for the optimizers.
  const Shape act{B, 64, 56, 56};
  const int64_t n = act.numel(), params = 11689512;
  const int64_t biggest = std::max(n, params);
  auto pool = be->make_pool("bench", 6 * (size_t(biggest) * 4 + kPoolAlignment), false);
  const Tensor a = pool->take(act, DType::f32, "a"), b = pool->take(act, DType::f32, "b"),
               y = pool->take(act, DType::f32, "y");
  const Tensor pp = pool->take(Shape{params}, DType::f32, "params"),
               pg = pool->take(Shape{params}, DType::f32, "grads"),
               pm = pool->take(Shape{params}, DType::f32, "m"), pv = pool->take(Shape{params}, DType::f32, "v");
  const Tensor pooled = pool->take(Shape{B, 64}, DType::f32, "pooled");
  for (const Tensor* t : {&a, &b, &y, &pp, &pg, &pm, &pv}) be->fill(*t, 0.5);

  // Validate before timing: a + b = 1 after relu, and the pooled mean of 0.5 is 0.5.
  be->add_relu_forward(a, b, y);
  be->global_avg_pool_forward(a, pooled);
  float probe[2];
  be->copy(y.slice_flat(n - 1, n), Tensor(probe, Shape{1}, DType::f32, Device::cpu()));
  be->copy(pooled.view(Shape{B * 64}).slice_flat(0, 1), Tensor(probe + 1, Shape{1}, DType::f32, Device::cpu()));
  SC_CHECK(probe[0] == 1.0f && probe[1] == 0.5f, "kernel benchmark: wrong results before timing (",
           probe[0], ", ", probe[1], ")");

  struct Row { const char* name; int64_t elems; double bytes_per_elem; std::function<void()> run; };
  SgdParams sgd;
  sgd.lr = 1e-9f;  // tiny steps keep the values bounded over many repeats
  AdamWParams adam;
  adam.lr = 1e-9f;
  const std::vector<Row> rows = {
      {"copy (reference)", n, 8, [&] { be->copy(a, y); }},
      {"add_relu forward", n, 12, [&] { be->add_relu_forward(a, b, y); }},
      {"relu / add_relu backward", n, 12, [&] { be->relu_backward(a, b, y); }},
      {"add_ (dst += src)", n, 12, [&] { be->add_(y, a); }},
      {"global_avg_pool forward", n, 4, [&] { be->global_avg_pool_forward(a, pooled); }},
      {"global_avg_pool backward", n, 4, [&] { be->global_avg_pool_backward(pooled, y); }},
      {"sgd update (momentum)", params, 20, [&] { be->sgd_update(sgd, pp, pg, pm); }},
      {"adamw update", params, 28, [&] { be->adamw_update(adam, 1, pp, pg, pm, pv); }},
  };
  std::printf("scenecam-bench kernels: %s backend, activation %s, parameter arena %ld floats, median of %d\n",
              be->name().c_str(), act.str().c_str(), long(params), repeats);
  Table table({"kernel", "elements", "ms", "gb_per_s", "pct_of_copy"});
  double copy_gbs = 0;
  for (const Row& r : rows) {
    const double t = median_seconds([&] { r.run(); be->synchronize(); }, 2, repeats);
    const double gbs = r.elems * r.bytes_per_elem / t / 1e9;
    if (copy_gbs == 0) copy_gbs = gbs;
    table.add({r.name, std::to_string(r.elems), fixed(t * 1e3, 3), fixed(gbs, 1), fixed(100 * gbs / copy_gbs, 0)});
  }
  table.print();
  if (!flags.str("json").empty()) table.write_json(flags.str("json"), "\"bench\": \"kernels\"");
  return 0;
}

}  // namespace scenecam::bench
