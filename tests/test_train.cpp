// Training end to end on synthetic scenes: learning, metrics, checkpoints, resuming, failures.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "internal/files.hpp"
#include "scenecam/config.hpp"
#include "scenecam/evaluate.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/image_io.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/interrupt.hpp"
#include "scenecam/report.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"
#include "recording_backend.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;

std::string tiny_config(const fs::path& dir, int epochs) {
  return R"(model:
  arch: resnet18
  classes: 6
  width: 8
  blocks: [1, 1, 1, 1]
  stem: small
data:
  source: synthetic
  image_size: 24
  synthetic_train: 1024
  synthetic_val: 200
  augment: {crop: none, flip: true}
train:
  epochs: )" +
         std::to_string(epochs) + R"(
  batch_size: 32
  log_every: 5
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}
  schedule: {name: cosine, warmup_epochs: 0.5}
runtime:
  device: cpu
  seed: 3
  threads: 2
output:
  dir: )" +
         dir.string() + "\n";
}

class Training : public ::testing::Test {
 protected:
  fs::path root;
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("scenecam_train_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
  }
  void TearDown() override { fs::remove_all(root); }

  TrainResult run(const RunConfig& c, TrainOptions o = {}) {
    Split split;
    const Dataset data = load_training_data(c, &split);
    auto backend = make_cpu_backend(2);
    o.config_yaml = config_to_yaml(c);
    return train(c, data, split, *backend, o);
  }
};

// Width and height from a PNG's IHDR chunk.
std::pair<int, int> png_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[24] = {};
  in.read(reinterpret_cast<char*>(b), 24);
  return {(b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19],
          (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23]};
}

// Every tensor of two checkpoints, byte for byte.
void expect_same_tensors(const std::string& a, const std::string& b) {
  const SafetensorsFile fa(a), fb(b);
  ASSERT_EQ(fa.names(), fb.names());
  auto backend = make_cpu_backend(1);
  for (const std::string& name : fa.names()) {
    const Shape s = fa.shape(name);
    std::vector<float> va(s.numel()), vb(s.numel());
    fa.read_into(name, Tensor(va.data(), s, DType::f32, Device::cpu()), *backend);
    fb.read_into(name, Tensor(vb.data(), s, DType::f32, Device::cpu()), *backend);
    ASSERT_EQ(0, std::memcmp(va.data(), vb.data(), va.size() * 4)) << name;
  }
}

// metrics.jsonl's records without their timings (which differ from run to run).
std::vector<nlohmann::json> metrics_without_timing(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json r = nlohmann::json::parse(line);
    r.erase("seconds");
    r.erase("images_per_second");
    records.push_back(r);
  }
  return records;
}

TEST_F(Training, ShortRunBeatsChanceAndWritesARunFolder) {
  const RunConfig c = parse_config(tiny_config(root / "run", 4), "tiny.yaml");
  const TrainResult r = run(c);
  EXPECT_EQ(r.epochs_done, 4);
  EXPECT_EQ(r.global_step, 4 * 32);
  EXPECT_GT(r.val_accuracy, 0.5) << "chance is 1/6";
  EXPECT_FALSE(r.stopped_early);
  for (const char* f : {"config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors"})
    EXPECT_TRUE(fs::exists(root / "run" / f)) << f;
  // The effective config reads back to the same run.
  const RunConfig back = load_config((root / "run" / "config.yaml").string());
  EXPECT_EQ(config_to_yaml(back), config_to_yaml(c));

  // metrics.jsonl: one JSON object per line, steps in order, one record per epoch.
  std::ifstream in(root / "run" / "metrics.jsonl");
  std::string line;
  int epochs = 0, steps = 0;
  int64_t last_step = 0;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line);  // throws on a malformed line
    ASSERT_TRUE(record.contains("type") && record.contains("global_step")) << line;
    EXPECT_GE(record["global_step"].get<int64_t>(), last_step);
    last_step = record["global_step"].get<int64_t>();
    if (record["type"] == "epoch") {
      ++epochs;
      for (const char* k :
           {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"})
        EXPECT_TRUE(record.contains(k)) << k;
    } else {
      ++steps;
      EXPECT_TRUE(std::isfinite(record["loss"].get<double>()));
    }
  }
  EXPECT_EQ(epochs, 4);
  int expected_steps = 0;  // every log_every (5) steps, and at the end of each 32-step epoch
  for (int g = 1; g <= 4 * 32; ++g)
    expected_steps += g % 5 == 0 || g % 32 == 0;
  EXPECT_EQ(steps, expected_steps);

  const SafetensorsFile ckpt((root / "run" / "last.safetensors").string());
  EXPECT_TRUE(ckpt.has("layer1.0.conv1.weight"));
  EXPECT_TRUE(ckpt.has("optimizer.momentum_buffer.fc.weight"));
  EXPECT_EQ(ckpt.metadata().at("classes"),
            R"(["disc","square","triangle","cross","ring","diamond"])");
}

TEST_F(Training, ResumingEqualsTheStraightRunBitForBit) {
  const RunConfig straight = parse_config(tiny_config(root / "straight", 3), "a.yaml");
  run(straight);

  // Stopped at an epoch boundary, then resumed.
  const RunConfig parted = parse_config(tiny_config(root / "parted", 3), "b.yaml");
  TrainOptions first;
  first.stop_after_epochs = 1;
  EXPECT_TRUE(run(parted, first).stopped_early);
  TrainOptions resume;
  resume.resume_dir = (root / "parted").string();
  EXPECT_EQ(run(parted, resume).epochs_done, 3);
  expect_same_tensors((root / "straight" / "last.safetensors").string(),
                      (root / "parted" / "last.safetensors").string());

  // Stopped in the middle of an epoch (as Ctrl-C does) between two step records, and at an
  // epoch's last step, then resumed: the same weights and the same records (the resumed epoch's
  // loss and accuracy count the steps before the stop).
  const auto straight_metrics = metrics_without_timing(root / "straight");
  for (const int64_t stop : {27, 32}) {
    const fs::path dir = root / ("stop" + std::to_string(stop));
    const RunConfig mid = parse_config(tiny_config(dir, 3), "c.yaml");
    TrainOptions interrupt;
    interrupt.stop_at_step = stop;
    EXPECT_TRUE(run(mid, interrupt).stopped_early);
    TrainOptions again;
    again.resume_dir = dir.string();
    run(mid, again);
    expect_same_tensors((root / "straight" / "last.safetensors").string(),
                        (dir / "last.safetensors").string());
    const auto resumed_metrics = metrics_without_timing(dir);
    ASSERT_EQ(resumed_metrics.size(), straight_metrics.size()) << "stopped at step " << stop;
    for (size_t i = 0; i < straight_metrics.size(); ++i)
      EXPECT_EQ(resumed_metrics[i], straight_metrics[i]) << "stopped at step " << stop;
  }
}

TEST_F(Training, CheckpointOfAnotherArchitectureNamesTheFirstMismatch) {
  const RunConfig a = parse_config(tiny_config(root / "run", 1), "a.yaml");
  run(a);
  const RunConfig wider = parse_config(tiny_config(root / "run", 2), "b.yaml", {"model.width=12"});
  TrainOptions resume;
  resume.resume_dir = (root / "run").string();
  const std::string config_before = read_whole_file((root / "run" / "config.yaml").string(), "");
  test::expect_error([&] { run(wider, resume); },
                     {"last.safetensors",
                      "tensor 'conv1.weight' has shape [8, 3, 3, 3] in the "
                      "checkpoint but [12, 3, 3, 3] in the model"});
  // A refused resume writes nothing into the run folder.
  EXPECT_EQ(read_whole_file((root / "run" / "config.yaml").string(), ""), config_before);
  const RunConfig deeper =
      parse_config(tiny_config(root / "run", 2), "c.yaml", {"model.blocks=[1, 2, 1, 1]"});
  test::expect_error([&] { run(deeper, resume); }, {"tensor 'layer2.1.conv1.weight' is missing"});
}

TEST_F(Training, NonFiniteLossStopsWithAClearMessage) {
  // A normalisation std this small makes the input scale infinite: NaN inputs on the first step.
  const RunConfig c =
      parse_config(tiny_config(root / "run", 1), "nan.yaml", {"data.std=[1e-45, 1e-45, 1e-45]"});
  test::expect_error([&] { run(c); },
                     {"the loss became", "epoch 1, step 1", "No checkpoint was written yet"});
  EXPECT_FALSE(fs::exists(root / "run" / "last.safetensors"));
}

// The data kept on the device (here the CPU backend's memory) make the very batches the host
// path makes: the same weights and records, bit for bit.
TEST_F(Training, DataOnTheDeviceTrainsAsTheHostPathBitForBit) {
  const std::string resized = "data.augment={crop: resized, flip: true}";
  run(parse_config(tiny_config(root / "host", 1), "a.yaml", {resized, "data.on_device=false"}));
  run(parse_config(tiny_config(root / "device", 1), "b.yaml", {resized, "data.on_device=true"}));
  expect_same_tensors((root / "host" / "last.safetensors").string(),
                      (root / "device" / "last.safetensors").string());
  EXPECT_EQ(metrics_without_timing(root / "device"), metrics_without_timing(root / "host"));
}

// runtime.cuda_graphs through a stand-in that keeps each recorded op with its arguments as they
// were recorded, as a CUDA graph does: the replayed steps train the very weights that steps run op
// by op do, though the learning rate changes every step (warm-up, then cosine) and AdamW's bias
// correction with it, and the freeze lifts after the first epoch (so the step is recorded anew).
TEST_F(Training, RecordedStepsReplayedTrainAsStepsRunOpByOp) {
  for (const char* optimizer : {"train.optimizer={name: sgd, lr: 0.1, momentum: 0.9}",
                                "train.optimizer={name: adamw, lr: 0.003}"}) {
    const std::vector<std::string> common{optimizer, "train.freeze=[conv1]",
                                          "train.unfreeze_at_epoch=1"};
    std::vector<std::string> graphs = common, plain = common;
    graphs.push_back("runtime.cuda_graphs=true");
    const RunConfig c = parse_config(tiny_config(root / "recorded", 2), "g.yaml", graphs);
    run(parse_config(tiny_config(root / "plain", 2), "p.yaml", plain));

    Split split;
    const Dataset data = load_training_data(c, &split);
    auto cpu = make_cpu_backend(2);
    test::RecordingBackend recording(*cpu);
    TrainOptions o;
    o.config_yaml = config_to_yaml(c);
    const TrainResult result = train(c, data, split, recording, o);

    EXPECT_EQ(recording.recordings(), 2) << optimizer;  // once per freeze
    const int64_t steps = 2 * (int64_t(split.train.size()) / 32);
    // Op by op, at the start and again when the freeze lifts, until a step takes no new memory:
    // two steps each time (conv1's weight gradient, computed from epoch 2, takes new scratch).
    EXPECT_EQ(recording.replays(), steps - 4) << optimizer;
    EXPECT_EQ(result.replayed_steps, steps - 4) << optimizer;
    expect_same_tensors((root / "plain" / "last.safetensors").string(),
                        (root / "recorded" / "last.safetensors").string());
    EXPECT_EQ(metrics_without_timing(root / "recorded"), metrics_without_timing(root / "plain"));
    fs::remove_all(root);
  }
}

// A step the backend cannot record leaves the run op by op, as if runtime.cuda_graphs were off.
TEST_F(Training, AStepThatCannotBeRecordedRunsOpByOp) {
  run(parse_config(tiny_config(root / "plain", 1), "p.yaml"));
  const RunConfig c =
      parse_config(tiny_config(root / "refused", 1), "r.yaml", {"runtime.cuda_graphs=true"});
  Split split;
  const Dataset data = load_training_data(c, &split);
  auto cpu = make_cpu_backend(2);
  test::RecordingBackend recording(*cpu);
  recording.refuse_recordings();
  TrainOptions o;
  o.config_yaml = config_to_yaml(c);
  EXPECT_EQ(train(c, data, split, recording, o).replayed_steps, 0);
  EXPECT_EQ(recording.recordings(), 0);
  expect_same_tensors((root / "plain" / "last.safetensors").string(),
                      (root / "refused" / "last.safetensors").string());
}

// Writes `value` over the first value of f32 tensor `name` in a safetensors file.
void overwrite_first_value(const fs::path& file, const std::string& name, float value) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header_bytes = 0;
  f.read(reinterpret_cast<char*>(&header_bytes), sizeof header_bytes);
  std::string header(header_bytes, '\0');
  f.read(header.data(), std::streamsize(header_bytes));
  const int64_t begin = nlohmann::json::parse(header)[name]["data_offsets"][0];
  f.seekp(std::streamoff(sizeof header_bytes + header_bytes + begin));
  f.write(reinterpret_cast<const char*>(&value), sizeof value);
}

// The loss is read from the device only every log_every steps, yet the message names the step
// whose loss first stopped being finite: a run stopped after step 3, given a first filter weight
// near the float range's end (so conv1's outputs overflow), and resumed, names step 4 whatever the
// interval.
TEST_F(Training, ANonFiniteLossIsNamedAtItsStepWhateverTheLogInterval) {
  for (const char* log_every : {"train.log_every=1", "train.log_every=1000"}) {
    const RunConfig c = parse_config(tiny_config(root / "run", 1), "c.yaml", {log_every});
    TrainOptions stop;
    stop.stop_at_step = 3;
    run(c, stop);
    overwrite_first_value(root / "run" / "last.safetensors", "conv1.weight", 3e38f);
    TrainOptions resume;
    resume.resume_dir = (root / "run").string();
    test::expect_error([&] { run(c, resume); },
                       {"the loss became", "at epoch 1, step 4 (", "last.safetensors"});
    fs::remove_all(root / "run");
  }
}

TEST_F(Training, ADivergedRunStopsWithoutNullsOrNaNWeightsAndStillReports) {
  const RunConfig c = parse_config(tiny_config(root / "run", 2), "lr99.yaml",
                                   {"train.optimizer.lr=99", "train.log_every=1"});
  try {
    run(c);
    ADD_FAILURE() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    EXPECT_NE(std::string(e.what()).find("; stopping."), std::string::npos) << e.what();
  }
  std::ifstream in(root / "run" / "metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    EXPECT_EQ(line.find("null"), std::string::npos) << line;
  for (const char* name : {"last.safetensors", "best.safetensors"})
    if (fs::exists(root / "run" / name)) {  // only a good epoch's weights are kept
      const SafetensorsFile f((root / "run" / name).string());
      auto backend = make_cpu_backend(1);
      const Shape s = f.shape("fc.weight");
      std::vector<float> w(s.numel());
      f.read_into("fc.weight", Tensor(w.data(), s, DType::f32, Device::cpu()), *backend);
    }
  if (!image_files_supported()) return;
  auto backend = make_cpu_backend(2);
  const ReportResult r = write_report((root / "run").string(), *backend);
  EXPECT_TRUE(fs::exists(r.html));
  EXPECT_GE(r.images.size(), 2u);
}

TEST_F(Training, InterruptWritesACheckpointAndStops) {
  const RunConfig c = parse_config(tiny_config(root / "run", 2), "a.yaml");
  std::atomic<bool> flag{true};
  TrainOptions o;
  o.interrupt = &flag;
  const TrainResult r = run(c, o);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.global_step, 1);
  const SafetensorsFile ckpt((root / "run" / "last.safetensors").string());
  EXPECT_NE(ckpt.metadata().at("state").find("\"step_in_epoch\":1"), std::string::npos);
}

TEST_F(Training, RefusesToOverwriteARunAndMismatchedClasses) {
  const RunConfig c = parse_config(tiny_config(root / "run", 1), "a.yaml");
  run(c);
  test::expect_error([&] { run(c); }, {"already holds a run", "--resume"});
  TrainOptions o;
  o.overwrite = true;
  EXPECT_EQ(run(c, o).epochs_done, 1);
  const RunConfig five =
      parse_config(tiny_config(root / "other", 1), "five.yaml", {"model.classes=5"});
  test::expect_error([&] { run(five); }, {"model.classes is 5 but the data has 6 classes"});
  // A folder without images is not a class; a count that differs says so.
  const RunConfig seven =
      parse_config(tiny_config(root / "seven", 1), "seven.yaml", {"model.classes=7"});
  Split split;
  Dataset data = load_training_data(seven, &split);
  data.empty_folders = {"fog"};
  auto backend = make_cpu_backend(1);
  TrainOptions options;
  options.config_yaml = config_to_yaml(seven);
  test::expect_error([&] { train(seven, data, split, *backend, options); },
                     {"model.classes is 7 but the data has 6 classes (not counting folders without "
                      "images: fog/)"});
}

TEST_F(Training, EvalOfTheBestCheckpointReproducesTheValidationAccuracy) {
  const RunConfig c = parse_config(tiny_config(root / "run", 2), "a.yaml");
  const TrainResult r = run(c);
  auto backend = make_cpu_backend(2);
  EvalOptions o;
  o.checkpoint = (root / "run" / "best.safetensors").string();
  const EvalResult e = evaluate_checkpoint(o, *backend);
  EXPECT_EQ(e.report.accuracy, r.best_val_accuracy);  // exactly: the same inference path
  EXPECT_EQ(e.report.samples, 200);
  for (const char* f :
       {"report.json", "report.csv", "confusion.csv", "confusion_normalized.csv", "mistakes.csv"})
    EXPECT_TRUE(fs::exists(root / "run" / "eval" / f)) << f;
  const auto j = nlohmann::json::parse(std::ifstream(root / "run" / "eval" / "report.json"));
  EXPECT_EQ(j["accuracy"].get<double>(), r.best_val_accuracy);
}

TEST_F(Training, ReportWritesDecodableFiguresAndAPageThatReferencesThem) {
  if (!image_files_supported()) GTEST_SKIP() << "this build has no OpenCV: reports are off";
  const RunConfig c = parse_config(tiny_config(root / "run", 2), "a.yaml");
  run(c);
  auto backend = make_cpu_backend(2);
  const ReportResult r = write_report((root / "run").string(), *backend);
  ASSERT_EQ(r.images.size(), 5u);
  const std::map<std::string, std::pair<int, int>> sizes = {
      {"curves.png", {1200, 460}}, {"lr.png", {1200, 400}}, {"confusion.png", {640, 620}}};
  for (const std::string& path : r.images) {
    ImageU8 img;
    std::string why;
    // Decodes at its own size via a generous target, then check the real size from the file.
    ASSERT_TRUE(read_image_file(path, 32, &img, &why)) << path << ": " << why;
    const auto it = sizes.find(fs::path(path).filename().string());
    if (it != sizes.end()) {
      const auto [w, h] = png_size(path);
      EXPECT_EQ(w, it->second.first) << path;
      EXPECT_EQ(h, it->second.second) << path;
    }
  }
  // Every src="..." in the page names a file that exists beside it.
  std::ifstream in(r.html);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int refs = 0;
  for (size_t at = html.find("src=\""); at != std::string::npos; at = html.find("src=\"", at + 1)) {
    const size_t end = html.find('"', at + 5);
    const std::string ref = html.substr(at + 5, end - at - 5);
    EXPECT_TRUE(fs::exists(fs::path(r.html).parent_path() / ref)) << ref;
    ++refs;
  }
  EXPECT_EQ(refs, 5);
  EXPECT_NE(html.find("weighted avg"), std::string::npos);
}

TEST(Files, ErrorsNameTheFileAndTheSystemsReason) {
  const fs::path file = fs::temp_directory_path() / ("scenecam_plain_" + std::to_string(::getpid()));
  write_file_atomic(file.string(), "a file, not a folder");
  const std::string inside = (file / "report.json").string();
  test::expect_error([&] { write_file_atomic(inside, "{}"); },
                     {"report.json: cannot create the file (Not a directory)"});
  test::expect_error([&] { read_whole_file((file / "x.yaml").string(), "the config file"); },
                     {"x.yaml: cannot read the config file (Not a directory)"});
  try {
    write_file_atomic(inside, "{}");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("disk full"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

TEST_F(Training, AnInterruptStopsDecodingAndInference) {
  const fs::path data = root / "data";
  for (const char* c : {"a", "b"})
    for (int i = 0; i < 3; ++i) {
      fs::create_directories(data / c);
      fs::copy_file(fs::path(SCENECAM_SOURCE_DIR) / "tests/data/images/gradient.png",
                    data / c / (std::to_string(i) + ".png"));
    }
  interrupt_flag() = true;
  test::expect_error([&] { load_image_folder(data.string(), 16, 1, ""); },
                     {"decoding ", "(0 of 6 images read): interrupted"});
  const RunConfig c = parse_config(tiny_config(root / "run", 1), "a.yaml");
  auto backend = make_cpu_backend(1);
  Classifier classifier(c, *backend);
  const Dataset images = make_synthetic_dataset(24, 1, 0, 4);
  try {
    classifier.logits(images, {0, 1, 2, 3}, false);
    ADD_FAILURE() << "expected Interrupted";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("inference (0 of 4 images done)"), std::string::npos);
  }
  interrupt_flag() = false;
  EXPECT_EQ(load_image_folder(data.string(), 16, 1, "").images.size(), 6u);
}

TEST(TrainingData, MoreImagesThanMemoryAreRefusedNamingTheSettings) {
  const RunConfig c = parse_config(tiny_config("/tmp/unused", 1), "big.yaml",
                                   {"data.synthetic_train=100000000", "data.image_size=1024"});
  Split split;
  test::expect_error([&] { load_training_data(c, &split); },
                     {"data.synthetic_train + data.synthetic_val: 100000200 images of 1024x1024 "
                      "need 292969.3 GiB of memory",
                      "this machine has"});
  test::expect_error(
      [&] { parse_config(tiny_config("/tmp/unused", 1), "x.yaml", {"data.synthetic_train=200000000"}); },
      {"data.synthetic_train", "must be in [1, 100000000]"});
}

// A safetensors file in memory: the 8-byte header length, the header, then `data` bytes of zeros.
std::string safetensors_bytes(const std::string& header, size_t data) {
  const uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + header + std::string(data, '\0');
}

TEST(Checkpoint, HeaderNumbersMustBeIntegersInRange) {
  // Found by fuzz_safetensors: a dimension of 6.7e55 was cast to int64 (undefined behaviour).
  for (const char* shape : {"[6.7e55]", "[1.5]", "[18446744073709551615]", "[\"4\"]"}) {
    const std::string header =
        std::string(R"({"w": {"dtype": "F32", "shape": )") + shape + R"(, "data_offsets": [0, 16]}})";
    test::expect_error([&] { SafetensorsFile("mem.safetensors", safetensors_bytes(header, 16)); },
                       {"mem.safetensors: tensor 'w' has a shape that is not a list of integers"});
  }
  const std::string offsets = R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16.5]}})";
  test::expect_error([&] { SafetensorsFile("mem.safetensors", safetensors_bytes(offsets, 16)); },
                     {"tensor 'w' has data_offsets that are not two byte positions"});
  const SafetensorsFile fine(
      "mem.safetensors",
      safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 16));
  EXPECT_EQ(fine.shape("w"), Shape{4});
}

TEST(Checkpoint, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const fs::path path = fs::temp_directory_path() /
                        ("scenecam_nonfinite_" + std::to_string(::getpid()) + ".safetensors");
  auto backend = make_cpu_backend(1);
  float good[3] = {1, 2, 3}, bad[4] = {1, 2, std::nanf(""), 4};
  const Tensor a(good, Shape{3}, DType::f32, Device::cpu()), b(bad, Shape{4}, DType::f32,
                                                                 Device::cpu());
  save_safetensors(path.string(), {{"a", a}, {"b", b}}, {}, *backend);
  const SafetensorsFile file(path.string());
  float out[4];
  file.read_into("a", Tensor(out, Shape{3}, DType::f32, Device::cpu()), *backend);
  EXPECT_EQ(out[2], 3.0f);
  test::expect_error(
      [&] { file.read_into("b", Tensor(out, Shape{4}, DType::f32, Device::cpu()), *backend); },
      {path.filename().c_str(), "tensor 'b' holds nan (at index 2)", "diverged"});
  fs::remove(path);
}

TEST(LearningRate, Schedules) {
  TrainConfig t;
  t.epochs = 10;
  t.optimizer.lr = 1.0;
  t.schedule.name = Schedule::cosine;
  t.schedule.warmup_epochs = 1;
  EXPECT_DOUBLE_EQ(learning_rate(t, 0, 100), 0.01);  // warm-up: (step + 1) / 100
  EXPECT_DOUBLE_EQ(learning_rate(t, 99, 100), 1.0);
  EXPECT_NEAR(learning_rate(t, 100 + 450, 100), 0.5, 1e-12);  // half-way through the cosine
  EXPECT_NEAR(learning_rate(t, 999, 100), 0.0, 1e-4);
  t.schedule.name = Schedule::step;
  t.schedule.warmup_epochs = 0;
  t.schedule.step_epochs = 3;
  t.schedule.gamma = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(t, 299, 100), 1.0);
  EXPECT_NEAR(learning_rate(t, 300, 100), 0.1, 1e-15);
  EXPECT_NEAR(learning_rate(t, 650, 100), 0.01, 1e-15);
  t.schedule.name = Schedule::onecycle;
  t.schedule.pct_start = 0.3;
  EXPECT_NEAR(learning_rate(t, 0, 100), 1.0 / 25, 1e-12);
  EXPECT_NEAR(learning_rate(t, 299, 100), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(t, 999, 100), 1.0 / 25 / 1e4, 1e-9);
  t.schedule.name = Schedule::constant;
  EXPECT_DOUBLE_EQ(learning_rate(t, 500, 100), 1.0);
}

TEST(LearningRate, AFractionalWarmUpNeverPassesThePeak) {
  TrainConfig t;
  t.epochs = 4;
  t.optimizer.lr = 0.1;
  for (const Schedule s : {Schedule::constant, Schedule::cosine, Schedule::step}) {
    t.schedule.name = s;
    for (const double warmup : {0.5, 0.625, 1.3}) {
      t.schedule.warmup_epochs = warmup;
      for (const int64_t steps_per_epoch : {1, 4}) {
        double peak = 0;
        for (int64_t step = 0; step < t.epochs * steps_per_epoch; ++step)
          peak = std::max(peak, learning_rate(t, step, steps_per_epoch));
        EXPECT_LE(peak, 0.1 + 1e-15) << name_of(s) << " warm-up " << warmup << ", "
                                      << steps_per_epoch << " steps per epoch";
      }
    }
  }
  t.schedule.name = Schedule::constant;
  t.schedule.warmup_epochs = 0.625;
  EXPECT_NEAR(learning_rate(t, 0, 4), 0.04, 1e-15);  // 2.5 warm-up steps: 0.04, 0.08, then 0.1
  EXPECT_NEAR(learning_rate(t, 1, 4), 0.08, 1e-15);
  EXPECT_DOUBLE_EQ(learning_rate(t, 2, 4), 0.1);
}

}  // namespace
}  // namespace scenecam
