// The strict config reader: each kind of error names file, line and column; values round-trip.
#include "scenecam/config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "test_util.hpp"

namespace scenecam {
namespace {

const char* kValid = R"(model:
  arch: resnet18
  classes: 6
data:
  source: synthetic
  image_size: 32
train:
  epochs: 3
  batch_size: 16
  optimizer:
    name: sgd
    lr: 0.05
    nesterov: true
  schedule:
    name: cosine
    warmup_epochs: 1
output:
  dir: runs/test
)";

TEST(Config, ReadsValuesAndFillsDefaults) {
  const RunConfig c = parse_config(kValid, "valid.yaml");
  EXPECT_EQ(c.model.arch, "resnet18");
  EXPECT_EQ(c.model.classes, 6);
  EXPECT_EQ(c.data.image_size, 32);
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.05);
  EXPECT_TRUE(c.train.optimizer.nesterov);
  EXPECT_DOUBLE_EQ(c.train.optimizer.momentum, 0.9);  // default
  EXPECT_EQ(c.runtime.device.str(), "auto");             // section absent: all defaults
  EXPECT_EQ(c.output.dir, "runs/test");
}

TEST(Config, UnknownKeyNamesFileLineAndColumn) {
  std::string text = kValid;
  text.replace(text.find("    nesterov: true"), 18, "    nesterov: true\n    lr_decay: 3");
  test::expect_error([&] { parse_config(text, "x.yaml"); },
                     {"x.yaml:14:5:", "unknown key 'train.optimizer.lr_decay'"});
}

TEST(Config, WrongTypeNamesTheValue) {
  std::string text = kValid;
  text.replace(text.find("epochs: 3"), 9, "epochs: three");
  test::expect_error([&] { parse_config(text, "x.yaml"); },
                     {"x.yaml:8:11:", "train.epochs", "expected an integer, got 'three'"});
  std::string text2 = kValid;
  text2.replace(text2.find("lr: 0.05"), 8, "lr: [1, 2]");
  test::expect_error([&] { parse_config(text2, "x.yaml"); },
                     {"train.optimizer.lr", "a number, got a list"});
}

TEST(Config, OutOfRangeNamesTheRange) {
  std::string text = kValid;
  text.replace(text.find("batch_size: 16"), 14, "batch_size: 1");
  test::expect_error([&] { parse_config(text, "x.yaml"); },
                     {"x.yaml:9:15:", "train.batch_size", "[2, 65536]"});
  std::string text2 = kValid;
  text2.replace(text2.find("arch: resnet18"), 14, "arch: resnet19");
  test::expect_error([&] { parse_config(text2, "x.yaml"); },
                     {"x.yaml:2:9:", "'resnet19' is not one of resnet18, resnet34"});
}

TEST(Config, ChoicesAreParsedIntoTheirEnumsAndWrittenBack) {
  const RunConfig c = parse_config(
      kValid, "x.yaml",
      {"train.optimizer.name=adamw", "train.schedule.name=onecycle", "data.augment.crop=none"});
  EXPECT_EQ(c.train.optimizer.name, Optimizer::adamw);
  EXPECT_EQ(c.train.schedule.name, Schedule::onecycle);
  EXPECT_EQ(c.data.augment.crop, Crop::none);
  EXPECT_EQ(parse_config(config_to_yaml(c), "back.yaml").train.schedule.name, Schedule::onecycle);
  test::expect_error([&] { parse_config(kValid, "x.yaml", {"train.optimizer.name=adam"}); },
                     {"train.optimizer.name", "'adam' is not one of sgd, adamw"});
}

TEST(Config, DeviceIsParsedOnceAndWrittenBack) {
  const RunConfig c = parse_config(kValid, "x.yaml", {"runtime.device=cuda:3"});
  EXPECT_EQ(c.runtime.device.kind, DeviceChoice::Kind::cuda);
  EXPECT_EQ(c.runtime.device.index, 3);
  EXPECT_NE(config_to_yaml(c).find("device: cuda:3"), std::string::npos);
  EXPECT_EQ(parse_config(kValid, "x.yaml", {"runtime.device=cuda"}).runtime.device.str(), "cuda:0");
  for (const std::string bad : {"gpu", "cuda:x", "cuda:-1", "cuda:1x", "CPU"}) {
    const std::string want = "runtime.device: expected auto, cpu, cuda or cuda:N, got '" + bad + "'";
    test::expect_error([&] { parse_config(kValid, "x.yaml", {"runtime.device=" + bad}); },
                       {"--set", want.c_str()});
  }
}

TEST(Config, WidthZeroIsRefusedAndTheDefaultIsWrittenOut) {
  test::expect_error([&] { parse_config(kValid, "x.yaml", {"model.width=0"}); },
                     {"model.width", "must be in [4, 4096]"});
  const RunConfig c = parse_config(kValid, "x.yaml");
  EXPECT_EQ(c.model.width, 64);
  EXPECT_NE(config_to_yaml(c).find("width: 64"), std::string::npos) << config_to_yaml(c);
}

TEST(Config, ARepeatedKeyIsRefusedAtAnyDepth) {
  const std::string twice_in_section = std::string(kValid) + "runtime:\n  seed: 1\n  seed: 2\n";
  test::expect_error([&] { parse_config(twice_in_section, "x.yaml"); },
                     {"x.yaml:", "'runtime.seed' is given twice (first at line"});
  const std::string section_twice = std::string(kValid) + "model:\n  classes: 3\n";
  test::expect_error([&] { parse_config(section_twice, "x.yaml"); },
                     {"x.yaml:", "'model' is given twice (first at line 1)"});
}

TEST(Config, AKeyThatIsNotAWordIsOneLine) {
  // Found by fuzz_config: an anchored empty key, and a list as a key.
  const std::string empty_key = std::string(kValid) + "runtime: {seed: 1, &anchored : 2}\n";
  test::expect_error([&] { parse_config(empty_key, "x.yaml"); },
                     {"x.yaml:", "runtime has a key that is not a word (an empty key)"});
  const std::string list_key = std::string(kValid) + "runtime:\n  ? [a, b]\n  : 1\n";
  test::expect_error([&] { parse_config(list_key, "x.yaml"); },
                     {"x.yaml:", "runtime has a key that is not a word (a list or mapping)"});
}

TEST(Config, SetErrorsAreBlamedOnSetNotOnTheFile) {
  test::expect_error([&] { parse_config(kValid, "base.yaml", {"train.epochs="}); },
                     {"--set: missing required value 'train.epochs'"});
  try {
    parse_config(kValid, "base.yaml", {"nosuch.section.key=1"});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--set: unknown key 'nosuch'", 0), 0u) << e.what();
  }
}

TEST(Config, MissingRequiredValueOrSection) {
  std::string text = kValid;
  text.erase(text.find("  classes: 6\n"), 13);
  test::expect_error([&] { parse_config(text, "x.yaml"); },
                     {"x.yaml:2:3:", "missing required value 'model.classes'"});
  std::string text2 = kValid;
  text2.erase(text2.find("output:"));
  test::expect_error([&] { parse_config(text2, "x.yaml"); }, {"missing required section 'output'"});
}

TEST(Config, BrokenYamlIsOneLineWithPosition) {
  test::expect_error([&] { parse_config("model: [unclosed\n  classes: 3\n", "bad.yaml"); },
                     {"bad.yaml:", "not valid YAML"});
}

TEST(Config, SetOverridesAndRejectsUnknownKeys) {
  const RunConfig c = parse_config(
      kValid, "valid.yaml", {"train.epochs=7", "runtime.device=cpu", "data.mean=[0.5, 0.5, 0.5]"});
  EXPECT_EQ(c.train.epochs, 7);
  EXPECT_EQ(c.runtime.device.str(), "cpu");
  EXPECT_FLOAT_EQ(c.data.mean[1], 0.5f);
  test::expect_error([&] { parse_config(kValid, "valid.yaml", {"train.epohcs=7"}); },
                     {"--set", "unknown key 'train.epohcs'"});
  test::expect_error([&] { parse_config(kValid, "valid.yaml", {"train.epochs"}); },
                     {"--set 'train.epochs'", "key=value"});
  test::expect_error([&] { parse_config(kValid, "valid.yaml", {"train.epochs=-2"}); },
                     {"--set", "train.epochs", "[1, 100000]"});
}

TEST(Config, EffectiveConfigRoundTrips) {
  const RunConfig a = parse_config(kValid, "valid.yaml", {"data.augment.crop=resized"});
  const std::string yaml = config_to_yaml(a);
  const RunConfig b = parse_config(yaml, "effective.yaml");
  EXPECT_EQ(config_to_yaml(b), yaml);
  EXPECT_EQ(b.data.augment.crop, Crop::resized);
  EXPECT_DOUBLE_EQ(b.train.optimizer.lr, 0.05);
  EXPECT_NE(yaml.find("lr: 0.05\n"), std::string::npos) << yaml;
}

// README's config reference lists exactly the keys of the field table (config_keys), no more and
// no fewer. A row names its first key in full and may add siblings by their last part alone.
TEST(Config, ReadmeReferenceListsEveryKey) {
  const char* root = std::getenv("SCENECAM_SOURCE_DIR");
  std::ifstream readme(std::string(root && *root ? root : SCENECAM_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(readme.good());
  std::set<std::string> documented;
  bool in_reference = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("### ", 0) == 0) in_reference = line == "### Config reference";
    if (!in_reference || line.rfind("| `", 0) != 0) continue;
    const std::string cell = line.substr(1, line.find('|', 1) - 1);
    std::string parent;
    for (size_t at = cell.find('`'); at != std::string::npos; at = cell.find('`', at)) {
      const size_t end = cell.find('`', at + 1);
      std::string key = cell.substr(at + 1, end - at - 1);
      if (key.find('.') == std::string::npos) key = parent + key;
      parent = key.substr(0, key.rfind('.') + 1);
      documented.insert(key);
      at = end + 1;
    }
  }
  const std::vector<std::string> keys = config_keys();
  const std::set<std::string> table(keys.begin(), keys.end());
  for (const std::string& k : table)
    EXPECT_TRUE(documented.count(k)) << k << " is missing from README's config reference";
  for (const std::string& k : documented)
    EXPECT_TRUE(table.count(k)) << "README documents " << k << ", which is not a config key";
  EXPECT_EQ(table.size(), keys.size()) << "a key appears twice in the field table";
}

// config.yaml opens each section once: walking the keys as its writer does (closing sections
// until the next key's path shares them), no section is opened again after it was closed.
TEST(Config, EachSectionsKeysStandTogether) {
  std::vector<std::string> open;  // dotted paths of the sections open now, outermost first
  std::set<std::string> closed;
  for (const std::string& key : config_keys()) {
    std::vector<std::string> paths;  // "train", "train.optimizer" for "train.optimizer.lr"
    for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1))
      paths.push_back(key.substr(0, dot));
    size_t common = 0;
    while (common < open.size() && common < paths.size() && open[common] == paths[common])
      ++common;
    for (; open.size() > common; open.pop_back())
      closed.insert(open.back());
    for (; open.size() < paths.size(); open.push_back(paths[open.size()]))
      EXPECT_FALSE(closed.count(paths[open.size()])) << key << " reopens " << paths[open.size()];
  }
}

TEST(Config, AnUnknownKeyIsNamedBeforeTheErrorItsDefaultCauses) {
  // A misspelt lr keeps the default 0.1, below the min_lr asked for; the typo is what to report.
  test::expect_error(
      [] {
        parse_config(kValid, "x.yaml",
                     {"train.optimizer.learnig_rate=0.001", "train.schedule.min_lr=0.5"});
      },
      {"unknown key 'train.optimizer.learnig_rate'"});
}

TEST(Config, EveryShippedConfigIsValid) {
  int count = 0;
  // The environment's source tree first (a build carried to another machine), else the build's.
  const char* root = std::getenv("SCENECAM_SOURCE_DIR");
  const std::string configs = std::string(root && *root ? root : SCENECAM_SOURCE_DIR) + "/configs";
  for (const auto& entry : std::filesystem::directory_iterator(configs)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const RunConfig c = load_config(entry.path().string());
    EXPECT_FALSE(c.output.dir.empty());
    ++count;
  }
  EXPECT_GE(count, 4);
}

TEST(Config, AFolderGivenAsTheConfigIsNamedAsOne) {
  test::expect_error([] { load_config(SCENECAM_SOURCE_DIR "/configs"); },
                     {"/configs: is a folder, not a file (expected the config file)"});
}

TEST(Config, MissingFileIsNamed) {
  test::expect_error([] { load_config("/nonexistent/run.yaml"); },
                     {"/nonexistent/run.yaml", "cannot read"});
}

}  // namespace
}  // namespace scenecam
