// The ONNX writer (export.hpp), on ONNX's own protobuf classes. The graph is emitted from the
// run's ResNetSpec in the order ResNet builds its layers (src/nn/resnet.cpp), with every tensor
// named as the checkpoint names it, so that a layer the graph expects and the checkpoint lacks
// is an error naming it.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <map>
#include <nlohmann/json.hpp>

#include "internal/files.hpp"
#include "scenecam/checkpoint.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/export.hpp"
#include "scenecam/inference.hpp"

namespace scenecam {
namespace {

// Nodes and initializers of one graph; every node's output gets a fresh name.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto* graph, const Parameters& params, Backend& backend)
      : graph_(graph), backend_(backend) {
    for (const ParamEntry& e : params.entries())
      params_.emplace(e.name, &e);
  }

  bool has(const std::string& name) const { return params_.count(name) != 0; }

  // The checkpoint's tensor `name` as an initializer; returns its name.
  const std::string& weight(const std::string& name) {
    const auto it = params_.find(name);
    SC_CHECK(it != params_.end(), "export: the network needs '", name, "', which the model lacks");
    const ParamEntry& e = *it->second;
    std::vector<float> host(e.shape.numel());
    backend_.copy(e.value, Tensor(host.data(), e.shape, DType::f32, Device::cpu()));
    add_constant(name, e.shape, host);
    return it->first;
  }

  void add_constant(const std::string& name, const Shape& shape, const std::vector<float>& v) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int i = 0; i < shape.rank(); ++i)
      t->add_dims(shape[i]);
    t->set_raw_data(v.data(), v.size() * sizeof(float));
  }

  onnx::NodeProto* node(const char* op, std::initializer_list<std::string> inputs,
                        const std::string& hint, std::string* output) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(hint + "/" + op);
    for (const std::string& in : inputs)
      n->add_input(in);
    *output = hint + "/" + op + "_" + std::to_string(next_++);
    n->add_output(*output);
    return n;
  }

 private:
  onnx::GraphProto* graph_;
  Backend& backend_;
  std::map<std::string, const ParamEntry*> params_;
  int next_ = 0;
};

void set_ints(onnx::NodeProto* n, const char* name, std::initializer_list<int64_t> values) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values)
    a->add_ints(v);
}

void set_float(onnx::NodeProto* n, const char* name, float value) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void set_int(onnx::NodeProto* n, const char* name, int64_t value) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// The layers, each returning its output's name.
class NetworkWriter {
 public:
  explicit NetworkWriter(GraphWriter& g) : g_(g) {}

  std::string conv(const std::string& x, const std::string& name, int stride, int pad) {
    std::string y;
    onnx::NodeProto* n = g_.node("Conv", {x, g_.weight(name + ".weight")}, name, &y);
    set_ints(n, "strides", {stride, stride});
    set_ints(n, "pads", {pad, pad, pad, pad});
    return y;
  }
  std::string batch_norm(const std::string& x, const std::string& name) {
    std::string y;
    onnx::NodeProto* n =
        g_.node("BatchNormalization",
                {x, g_.weight(name + ".weight"), g_.weight(name + ".bias"),
                 g_.weight(name + ".running_mean"), g_.weight(name + ".running_var")},
                name, &y);
    set_float(n, "epsilon", static_cast<float>(BatchNormParams{}.eps));
    return y;
  }
  std::string relu(const std::string& x, const std::string& name) {
    std::string y;
    g_.node("Relu", {x}, name, &y);
    return y;
  }
  std::string max_pool(const std::string& x, const std::string& name, int k, int s, int p) {
    std::string y;
    onnx::NodeProto* n = g_.node("MaxPool", {x}, name, &y);
    set_ints(n, "kernel_shape", {k, k});
    set_ints(n, "strides", {s, s});
    set_ints(n, "pads", {p, p, p, p});
    return y;
  }
  std::string add_relu(const std::string& a, const std::string& b, const std::string& name) {
    std::string sum;
    g_.node("Add", {a, b}, name, &sum);
    return relu(sum, name);
  }
  // Shortcut: the identity, or 1x1 conv + batch norm when the block has "downsample".
  std::string shortcut(const std::string& x, const std::string& block, int stride) {
    if (!g_.has(block + ".downsample.0.weight")) return x;
    return batch_norm(conv(x, block + ".downsample.0", stride, 0), block + ".downsample.1");
  }

  std::string basic_block(const std::string& x, const std::string& b, int stride) {
    std::string h = relu(batch_norm(conv(x, b + ".conv1", stride, 1), b + ".bn1"), b + ".relu");
    h = batch_norm(conv(h, b + ".conv2", 1, 1), b + ".bn2");
    return add_relu(h, shortcut(x, b, stride), b);
  }
  std::string bottleneck(const std::string& x, const std::string& b, int stride) {
    std::string h = relu(batch_norm(conv(x, b + ".conv1", 1, 0), b + ".bn1"), b + ".relu1");
    h = relu(batch_norm(conv(h, b + ".conv2", stride, 1), b + ".bn2"), b + ".relu2");
    h = batch_norm(conv(h, b + ".conv3", 1, 0), b + ".bn3");
    return add_relu(h, shortcut(x, b, stride), b);
  }
  std::string pooling_block(const std::string& x, const std::string& b) {
    std::string h = relu(batch_norm(conv(x, b + ".conv1", 1, 1), b + ".bn1"), b + ".relu");
    h = max_pool(batch_norm(conv(h, b + ".conv2", 1, 1), b + ".bn2"), b + ".pool", 2, 2, 0);
    const std::string s = max_pool(shortcut(x, b, 1), b + ".downsample.pool", 2, 2, 0);
    return add_relu(h, s, b);
  }

 private:
  GraphWriter& g_;
};

// The network of `spec`, from the normalised input to the logits.
std::string write_network(const ResNetSpec& spec, GraphWriter& g, const std::string& input) {
  NetworkWriter w(g);
  std::string h = w.relu(
      w.batch_norm(w.conv(input, "conv1", spec.stem_stride, spec.stem_kernel / 2), "bn1"), "relu");
  if (spec.stem_pool) h = w.max_pool(h, "maxpool", 3, 2, spec.stem_pool_pad);
  for (size_t s = 0; s < spec.blocks.size(); ++s)
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const std::string name = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      const int stride = (b == 0 && s > 0) ? 2 : 1;
      if (spec.block == BlockKind::bottleneck)
        h = w.bottleneck(h, name, stride);
      else if (spec.block == BlockKind::pooling && b == 0)
        h = w.pooling_block(h, name);
      else
        h = w.basic_block(h, name, spec.block == BlockKind::pooling ? 1 : stride);
    }
  std::string pooled, flat, logits;
  g.node("GlobalAveragePool", {h}, "avgpool", &pooled);
  set_int(g.node("Flatten", {pooled}, "flatten", &flat), "axis", 1);
  set_int(g.node("Gemm", {flat, g.weight("fc.weight"), g.weight("fc.bias")}, "fc", &logits),
          "transB", 1);
  return logits;
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name,
                    std::initializer_list<int64_t> dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  bool first = true;
  for (int64_t d : dims) {
    onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
    if (first)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
    first = false;
  }
}

void add_metadata(onnx::ModelProto& model, const char* key, const std::string& value) {
  onnx::StringStringEntryProto* p = model.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

}  // namespace

bool onnx_export_supported() {
  return true;
}

void export_onnx(const std::string& checkpoint, const std::string& out_path) {
  const SafetensorsFile file(checkpoint);
  const RunConfig config = checkpoint_config(file);
  auto backend = make_cpu_backend(1);
  Classifier classifier(config, file, *backend);
  const int64_t S = config.data.image_size, K = config.model.classes;

  onnx::ModelProto model;
  model.set_ir_version(7);  // the first IR of opset 13: older runtimes read it too
  model.set_producer_name("scenecam");
  model.set_model_version(1);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(config.model.arch);
  add_value_info(graph->add_input(), "input", {0, 3, S, S});

  GraphWriter g(graph, classifier.model().params(), *backend);
  std::vector<float> mean(config.data.mean.begin(), config.data.mean.end());
  std::vector<float> std_dev(config.data.std.begin(), config.data.std.end());
  g.add_constant("normalise.mean", Shape{1, 3, 1, 1}, mean);
  g.add_constant("normalise.std", Shape{1, 3, 1, 1}, std_dev);
  std::string centred, normalised;
  g.node("Sub", {"input", "normalise.mean"}, "normalise", &centred);
  g.node("Div", {centred, "normalise.std"}, "normalise", &normalised);
  const std::string logits = write_network(classifier.model().spec(), g, normalised);

  onnx::NodeProto* identity = graph->add_node();
  identity->set_op_type("Identity");
  identity->add_input(logits);
  identity->add_output("logits");
  onnx::NodeProto* softmax = graph->add_node();
  softmax->set_op_type("Softmax");
  softmax->add_input(logits);
  softmax->add_output("probabilities");
  set_int(softmax, "axis", 1);
  add_value_info(graph->add_output(), "logits", {0, K});
  add_value_info(graph->add_output(), "probabilities", {0, K});

  add_metadata(model, "classes", nlohmann::json(classifier.classes()).dump());
  add_metadata(model, "image_size", std::to_string(S));
  add_metadata(model, "input", "RGB pixels / 255, NCHW; normalised inside the graph");
  add_metadata(model, "mean", nlohmann::json(mean).dump());
  add_metadata(model, "std", nlohmann::json(std_dev).dump());
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    fail("export: ONNX's checker refused the model for ", checkpoint, ": ", e.what());
  }
  std::string bytes;
  SC_CHECK(model.SerializeToString(&bytes), out_path, ": the model could not be serialised");
  write_file_atomic(out_path, bytes);
}

}  // namespace scenecam
