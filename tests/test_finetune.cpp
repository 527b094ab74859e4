// Fine-tuning: model.init, name patterns, train.freeze (+ unfreeze_at_epoch), lr_scale.
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "internal/files.hpp"
#include "internal/sha256.hpp"
#include "scenecam/config.hpp"
#include "scenecam/finetune.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;

const char* kTinyModel = R"(model:
  arch: resnet18
  classes: 6
  width: 8
  blocks: [1, 1, 1, 1]
  stem: small
data:
  source: synthetic
  image_size: 24
  synthetic_train: 256
  synthetic_val: 64
  augment: {crop: none, flip: true}
train:
  epochs: 2
  batch_size: 32
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
  schedule: {name: constant}
runtime: {device: cpu, seed: 3, threads: 2}
output:
  dir: )";

// The tensors of a model with `classes` outputs, initialised from `seed`, written as a plain
// safetensors file (no scenecam metadata), as torchvision weights converted would be.
void write_weights(const fs::path& path, int64_t classes, uint64_t seed, int64_t width = 8,
                   bool with_counter = false) {
  ModelConfig m;
  m.arch = "resnet18";
  m.classes = classes;
  m.width = width;
  m.blocks = {1, 1, 1, 1};
  m.stem = "small";
  ResNet model(resnet_spec(m));
  auto backend = make_cpu_backend(1);
  model.materialize(*backend, seed);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const ParamEntry& e : model.params().entries())
    tensors.emplace_back(e.name, e.value);
  int32_t counter[2] = {7, 0};  // an I64 scalar, as PyTorch's num_batches_tracked
  if (with_counter)
    tensors.emplace_back("bn1.num_batches_tracked",
                         Tensor(counter, Shape{2}, DType::i32, Device::cpu()));
  save_safetensors(path.string(), tensors, {}, *backend);
  if (with_counter) {  // relabel the i32 pair as one I64 value, in place
    std::string bytes = read_whole_file(path.string(), "");
    const size_t at = bytes.find("\"I32\",\"shape\":[2]");
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, 17, "\"I64\",\"shape\":[1]");
    write_file_atomic(path.string(), bytes);
  }
}

std::vector<float> tensor_values(const SafetensorsFile& f, const std::string& name) {
  auto backend = make_cpu_backend(1);
  std::vector<float> v(f.shape(name).numel());
  f.read_into(name, Tensor(v.data(), f.shape(name), DType::f32, Device::cpu()), *backend);
  return v;
}

class FineTune : public ::testing::Test {
 protected:
  fs::path root;
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("scenecam_finetune_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
  }
  void TearDown() override { fs::remove_all(root); }

  RunConfig config(const std::string& run, std::vector<std::string> sets) {
    return parse_config(kTinyModel + (root / run).string() + "\n", "tiny.yaml", sets);
  }
  TrainResult run(RunConfig c, TrainOptions o = {}) {
    Split split;
    const Dataset data = load_training_data(c, &split);
    auto backend = make_cpu_backend(2);
    record_init_checksum(c.model);
    o.config_yaml = config_to_yaml(c);
    return train(c, data, split, *backend, o);
  }
};

TEST(TensorNames, PatternsMatchAsDocumented) {
  struct Case {
    const char *pattern, *name;
    bool match;
  } cases[] = {
      {"layer1", "layer1.0.conv1.weight", true},
      {"layer1", "layer10.0.conv1.weight", false},
      {"layer1.0.bn1", "layer1.0.bn1.bias", true},
      {"layer1.0.bn", "layer1.0.bn1.bias", false},
      {"*.bn1.*", "layer2.1.bn1.weight", true},
      {"*.bn1.*", "layer2.1.bn2.weight", false},
      {"stem", "conv1.weight", true},
      {"stem", "bn1.running_var", true},
      {"stem", "layer1.0.conv1.weight", false},
      {"head", "fc.bias", true},
      {"backbone", "fc.weight", false},
      {"backbone", "layer4.1.bn2.weight", true},
      {"up_to:layer2", "layer2.1.conv2.weight", true},
      {"up_to:layer2", "layer3.0.conv1.weight", false},
      {"up_to:layer2", "bn1.weight", true},
      {"fc.weight", "fc.weight", true},
  };
  for (const Case& c : cases)
    EXPECT_EQ(tensor_name_matches(c.pattern, c.name), c.match) << c.pattern << " / " << c.name;
  test::expect_error([] { tensor_name_matches("up_to:stage2", "conv1.weight"); },
                     {"up_to:stage2", "expected up_to:layerN"});
}

TEST(TensorNames, Sha256MatchesTheStandardVectors) {
  Sha256 empty;
  EXPECT_EQ(empty.hex_digest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.update("abc", 3);
  EXPECT_EQ(abc.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 two_blocks;  // 56 bytes: the padding spills into a second block
  const char* text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  two_blocks.update(text, std::strlen(text));
  EXPECT_EQ(two_blocks.hex_digest(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// A frozen tensor is bit-identical after training; a trained one is not; the head of another
// class count is re-initialised with a message; batch-norm statistics come from the file.
TEST_F(FineTune, FrozenTensorsStayBitIdenticalAndTheHeadIsReinitialised) {
  const fs::path weights = root / "pretrained.safetensors";
  write_weights(weights, 4, 99, 8, /*with_counter=*/true);
  const RunConfig c = config(
      "run", {"model.init=" + weights.string(), "train.freeze=up_to:layer2", "train.epochs=1"});
  testing::internal::CaptureStdout();
  run(c);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("init: the head (fc) is re-initialised for 6 classes: 'fc.weight' is "
                     "[4, 64] in the file, [6, 64] here"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("train: 18 of 38 trainable tensors frozen (train.freeze)\n"),
            std::string::npos)
      << out;

  const SafetensorsFile init(weights.string()), trained((root / "run/last.safetensors").string());
  for (const char* name : {"conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.running_var",
                           "layer1.0.conv2.weight", "layer2.0.downsample.1.running_var"})
    EXPECT_EQ(tensor_values(init, name), tensor_values(trained, name)) << name;
  for (const char* name : {"layer3.0.conv1.weight", "layer4.0.bn1.running_mean"})
    EXPECT_NE(tensor_values(init, name), tensor_values(trained, name)) << name;
  // The frozen tensors' optimizer state was never touched.
  const std::vector<float> momentum =
      tensor_values(trained, "optimizer.momentum_buffer.conv1.weight");
  EXPECT_TRUE(std::all_of(momentum.begin(), momentum.end(), [](float v) { return v == 0; }));
  // The effective config records the file and its checksum.
  const RunConfig back = load_config((root / "run/config.yaml").string());
  EXPECT_EQ(back.model.init, weights.string());
  EXPECT_EQ(back.model.init_sha256, sha256_of_file(weights.string()));
  EXPECT_EQ(back.train.freeze, std::vector<std::string>{"up_to:layer2"});
}

// Linear probe, then full fine-tuning; a run resumed across the switch equals the straight one.
TEST_F(FineTune, UnfreezeAtEpochSwitchesAndSurvivesAResume) {
  const fs::path weights = root / "pretrained.safetensors";
  write_weights(weights, 6, 5);
  const std::vector<std::string> sets = {"model.init=" + weights.string(), "train.freeze=backbone",
                                         "train.unfreeze_at_epoch=1", "train.optimizer.name=adamw",
                                         "train.optimizer.lr=0.01"};
  run(config("straight", sets));
  TrainOptions first;
  first.stop_after_epochs = 1;
  run(config("parted", sets), first);
  const SafetensorsFile init(weights.string()), probe((root / "parted/last.safetensors").string());
  EXPECT_EQ(tensor_values(init, "layer4.0.conv2.weight"),
            tensor_values(probe, "layer4.0.conv2.weight"));
  EXPECT_NE(tensor_values(init, "fc.weight"), tensor_values(probe, "fc.weight"));
  TrainOptions resume;
  resume.resume_dir = (root / "parted").string();
  run(config("parted", sets), resume);
  const SafetensorsFile straight((root / "straight/last.safetensors").string()),
      parted((root / "parted/last.safetensors").string());
  EXPECT_NE(tensor_values(init, "layer4.0.conv2.weight"),
            tensor_values(straight, "layer4.0.conv2.weight"));
  for (const std::string& name : straight.names())
    EXPECT_EQ(tensor_values(straight, name), tensor_values(parted, name)) << name;
}

// A scenecam checkpoint as model.init: its weights load, its optimizer state is not used.
TEST_F(FineTune, AScenecamCheckpointInitialisesWithoutItsOptimizerState) {
  run(config("first", {"train.epochs=1"}));
  const std::string checkpoint = (root / "first/last.safetensors").string();
  testing::internal::CaptureStdout();
  run(config("second", {"model.init=" + checkpoint, "train.epochs=1",
                        "train.optimizer.lr_scale={backbone: 0}"}));
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("init: 62 tensors from " + checkpoint), std::string::npos) << out;
  EXPECT_EQ(out.find("no place here"), std::string::npos) << out;
  const SafetensorsFile first(checkpoint), second((root / "second/last.safetensors").string());
  EXPECT_EQ(tensor_values(first, "layer3.0.conv2.weight"),
            tensor_values(second, "layer3.0.conv2.weight"));
}

// A batch norm with only its weight frozen still trains its bias, in training mode.
TEST_F(FineTune, AHalfFrozenBatchNormTrainsItsBias) {
  run(config("run", {"train.freeze=[layer2.0.bn1.weight]", "train.epochs=1"}));
  const fs::path fresh = root / "fresh.safetensors";
  write_weights(fresh, 6, 3);
  const SafetensorsFile init(fresh.string()), trained((root / "run/last.safetensors").string());
  EXPECT_EQ(tensor_values(init, "layer2.0.bn1.weight"),
            tensor_values(trained, "layer2.0.bn1.weight"));
  EXPECT_NE(tensor_values(init, "layer2.0.bn1.bias"), tensor_values(trained, "layer2.0.bn1.bias"));
  EXPECT_NE(tensor_values(init, "layer2.0.bn1.running_mean"),
            tensor_values(trained, "layer2.0.bn1.running_mean"));
}

TEST_F(FineTune, ALearningRateScaleOfZeroHoldsItsTensors) {
  const RunConfig c = config("run", {"train.optimizer.lr_scale={backbone: 0, fc: 10}",
                                     "train.epochs=1", "train.optimizer.weight_decay=0.1"});
  run(c);
  // The seeded initialisation, written out by a model with the same seed.
  const fs::path fresh = root / "fresh.safetensors";
  write_weights(fresh, 6, 3);
  const SafetensorsFile init(fresh.string()), trained((root / "run/last.safetensors").string());
  for (const char* name : {"conv1.weight", "layer4.0.conv2.weight", "layer2.0.bn1.bias"})
    EXPECT_EQ(tensor_values(init, name), tensor_values(trained, name)) << name;
  EXPECT_NE(tensor_values(init, "fc.weight"), tensor_values(trained, "fc.weight"));
}

TEST_F(FineTune, WrongFilesAndPatternsGetOneLineErrors) {
  const fs::path wide = root / "wide.safetensors", other = root / "other.safetensors";
  write_weights(wide, 6, 1, 12);
  auto backend = make_cpu_backend(1);
  float x = 1;
  save_safetensors(other.string(),
                   {{"encoder.weight", Tensor(&x, Shape{1}, DType::f32, Device::cpu())}}, {},
                   *backend);
  test::expect_error([&] { run(config("a", {"model.init=" + wide.string()})); },
                     {"wide.safetensors: tensor 'conv1.weight' has shape [12, 3, 3, 3] in the file "
                      "but [8, 3, 3, 3] in this model (resnet18, width 8)"});
  test::expect_error(
      [&] { run(config("b", {"model.init=" + other.string()})); },
      {"other.safetensors: none of this model's tensors is in the file", "another architecture?"});
  // A file without one block's tensors: named, and init_exclude accepts the gap.
  const fs::path partial = root / "partial.safetensors";
  {
    write_weights(partial, 6, 1);
    std::string bytes = read_whole_file(partial.string(), "");
    const size_t at = bytes.find("\"layer3.0.conv1.weight\"");
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, 23, "\"layer3.0.conv1.WEIGHT\"");  // same length: the header still fits
    write_file_atomic(partial.string(), bytes);
  }
  test::expect_error([&] { run(config("c", {"model.init=" + partial.string()})); },
                     {"partial.safetensors: tensor 'layer3.0.conv1.weight' of this model is "
                      "missing from the file",
                      "model.init_exclude"});
  testing::internal::CaptureStdout();
  run(config("d", {"model.init=" + partial.string(), "model.init_exclude=[layer3.0.conv1]",
                   "train.epochs=1"}));
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("1 left as initialised (model.init_exclude); 1 of the file's tensors have no "
                     "place here"),
            std::string::npos)
      << out;
  test::expect_error(
      [&] { run(config("e", {"train.freeze=[layer9]"})); },
      {"tiny.yaml: train.freeze: 'layer9' matches no trainable tensor of this model"});
  test::expect_error([&] { run(config("e2", {"train.freeze=[\"*.running_mean\"]"})); },
                     {"train.freeze: '*.running_mean' matches no trainable tensor"});
  test::expect_error([&] { run(config("e3", {"train.freeze=[backbone, head]"})); },
                     {"tiny.yaml: train.freeze leaves no tensor to train"});
  test::expect_error(
      [&] {
        run(config("e4", {"model.init=" + partial.string(), "model.init_exclude=[fcc]"}));
      },
      {"model.init_exclude: 'fcc' matches no trainable tensor"});
  test::expect_error([&] { run(config("f", {"train.optimizer.lr_scale={fcc: 2}"})); },
                     {"train.optimizer.lr_scale: 'fcc' matches no trainable tensor"});
  test::expect_error(
      [&] {
        run(config(
            "g", {"model.init=" + partial.string(), "model.init_sha256=" + std::string(64, 'a')}));
      },
      {"partial.safetensors: its SHA-256 is ", "but model.init_sha256 says aaaa"});
  EXPECT_FALSE(fs::exists(root / "c")) << "a refused init writes no run folder";
}

TEST(FineTuneConfig, KeysReadBackAndBadValuesAreNamed) {
  const std::string base = std::string(kTinyModel) + "/tmp/x\n";
  const RunConfig c = parse_config(base, "t.yaml",
                                   {"train.freeze=[stem, layer1]", "train.unfreeze_at_epoch=1",
                                    "train.optimizer.lr_scale={fc: 10, layer4: 2.5}"});
  const RunConfig back = parse_config(config_to_yaml(c), "back.yaml");
  EXPECT_EQ(back.train.freeze, (std::vector<std::string>{"stem", "layer1"}));
  EXPECT_EQ(back.train.unfreeze_at_epoch, 1);
  EXPECT_EQ(back.train.optimizer.lr_scale,
            (std::map<std::string, double>{{"fc", 10}, {"layer4", 2.5}}));
  test::expect_error([&] { parse_config(base, "t.yaml", {"train.unfreeze_at_epoch=1"}); },
                     {"train.unfreeze_at_epoch: needs train.freeze"});
  test::expect_error(
      [&] {
        parse_config(base, "t.yaml", {"train.freeze=stem", "train.unfreeze_at_epoch=2"});
      },
      {"train.unfreeze_at_epoch: must be in [1, epochs)"});
  test::expect_error([&] { parse_config(base, "t.yaml", {"train.optimizer.lr_scale={fc: -1}"}); },
                     {"'fc': must be in [0, 1000]"});
  test::expect_error([&] { parse_config(base, "t.yaml", {"train.optimizer.lr_scale=[fc]"}); },
                     {"expected a mapping of name patterns to numbers"});
  test::expect_error([&] { parse_config(base, "t.yaml", {"data.val_root=/tmp"}); },
                     {"data.val_root: is for data.source: folder"});
  test::expect_error([&] { parse_config(base, "t.yaml", {"model.init_sha256=abc"}); },
                     {"model.init_sha256: needs model.init"});
}

}  // namespace
}  // namespace scenecam
