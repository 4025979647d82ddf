// paramscope-cli merge: mergekit-style recipes over small safetensors fixtures written here with
// the core writer (the numpy reference's TIES case, tests/data/merge/reference.json), relative
// paths, dtype and sharding options, config.json, per-tensor filters, importance-weighted (Fisher)
// merging with statistics files, the malformed-recipe corpus (tests/tools/make_malformed_merge.py)
// and refused recipes that leave no output behind.
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>

#include "cli_run.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/writers.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

using Floats = std::vector<float>;

Floats floats(const QJsonArray& a) {
  Floats v;
  for (const auto& e : a) v.push_back(static_cast<float>(e.toDouble()));
  return v;
}

QJsonObject reference_case(const QString& name) {
  const auto cases = test::read_json(test::data("merge/reference.json"))["cases"].toArray();
  for (const auto& c : cases)
    if (c.toObject()["name"].toString() == name) return c.toObject();
  qFatal("no reference case %s", qPrintable(name));
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A model with the reference values as "layer.weight" [12, 20], a fixed bias and an I64 counter.
void write_model(const fs::path& p, const Floats& w, float bias) {
  fs::create_directories(p.parent_path());
  static const std::vector<std::int64_t> steps = {7};
  const Floats b(4, bias);
  write_safetensors(p, {TensorToWrite::from_floats("layer.weight", DType::F32, {12, 20}, w),
                        TensorToWrite::from_floats("layer.bias", DType::F32, {4}, b),
                        TensorToWrite::from_bytes("steps", DType::I64, {1}, std::as_bytes(std::span(steps)))});
}

}  // namespace

class TestCliMerge : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path dir_;
  QJsonObject ties_;

  QString path(const std::string& rel) const { return QString::fromStdString((dir_ / rel).string()); }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    dir_ = tmp_.path().toStdString();
    ties_ = reference_case("ties_default");
    const auto models = ties_["models"].toArray();
    // The base is a Hugging Face style folder with a config.json; the fine-tunes are files.
    write_model(dir_ / "models/base/model.safetensors", floats(ties_["base"].toArray()), 0.0f);
    write_text(dir_ / "models/base/config.json", "{\"model_type\": \"tiny\"}\n");
    for (int i = 0; i < models.size(); ++i)
      write_model(dir_ / ("models/ft" + std::to_string(i) + ".safetensors"), floats(models[i].toArray()),
                  static_cast<float>(i + 1));
    write_text(dir_ / "recipes/ties.yaml",
               "# mergekit's TIES example, paths relative to this file\n"
               "merge_method: ties\n"
               "base_model: ../models/base\n"
               "models:\n"
               "  - model: ../models/./base/\n"
               "  - model: ../models/ft0.safetensors\n"
               "    parameters: {weight: 1.0, density: 0.5}\n"
               "  - model: ../models/ft1.safetensors\n"
               "    parameters:\n"
               "      weight: 0.6\n"
               "      density: 0.3\n"
               "  - model: ../models/ft2.safetensors\n"
               "    parameters: {weight: 0.4, density: 0.7}\n"
               "parameters:\n"
               "  normalize: true\n"
               "  int8_mask: true\n"
               "dtype: float32\n");
  }

  void ties_recipe_matches_numpy_reference() {
    const auto r = test::run_cli({"merge", path("recipes/ties.yaml"), "-o", path("out/ties")});
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(r.out.contains("ties merge of 3 model(s)"));
    QVERIFY(r.out.contains("wrote " + path("out/ties/model.safetensors").toUtf8()));
    QVERIFY(r.out.contains("wrote " + path("out/ties/config.json").toUtf8()));
    const Checkpoint m = open_checkpoint(dir_ / "out/ties/model.safetensors");
    const Floats got = m.at("layer.weight").to_f32();
    const Floats want = floats(ties_["expected"].toArray());
    QCOMPARE(got.size(), want.size());
    int differing = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      differing += std::fabs(got[i] - want[i]) > 2e-6f * std::max(1.0f, std::fabs(want[i]));
    QCOMPARE(differing, 0);
    // Bias: deltas 1, 2, 3 all positive, density int(d * 4) of equal magnitudes (kept by index):
    // entry 0 is kept by all three -> (1*1 + .6*2 + .4*3) / 2 = 1.7.
    QCOMPARE(m.at("layer.bias").to_f32()[0], 1.7f);
    QCOMPARE(m.at("steps").dtype(), DType::I64);
    QCOMPARE(m.at("steps").to_f32(), Floats{7});
    bool recipe = false;
    for (const auto& [k, v] : m.metadata())
      recipe = recipe || (k == "merge_recipe" && v.find("\"ties\"") != std::string::npos);
    QVERIFY(recipe);
    std::ifstream cfg(dir_ / "out/ties/config.json");
    std::string line;
    std::getline(cfg, line);
    QCOMPARE(QString::fromStdString(line), QString("{\"model_type\": \"tiny\"}"));
  }

  // mergekit evaluates booleans per tensor too: normalize off for the bias only.
  void filtered_boolean_parameter() {
    write_text(dir_ / "recipes/ties_bias_unnormalized.yaml",
               "merge_method: ties\nbase_model: ../models/base\nmodels:\n"
               "  - model: ../models/ft0.safetensors\n    parameters: {weight: 1.0, density: 0.5}\n"
               "  - model: ../models/ft1.safetensors\n    parameters: {weight: 0.6, density: 0.3}\n"
               "  - model: ../models/ft2.safetensors\n    parameters: {weight: 0.4, density: 0.7}\n"
               "parameters:\n  normalize:\n    - {filter: bias, value: false}\n    - {value: true}\n"
               "  rescale: [{value: true}]\ndtype: float32\n");
    const auto r = test::run_cli({"merge", path("recipes/ties_bias_unnormalized.yaml"), "-o", path("out/ties_fb")});
    QVERIFY2(r.code == 0, r.err.constData());
    const Checkpoint m = open_checkpoint(dir_ / "out/ties_fb/model.safetensors");
    // Bias entry 0, kept by all three with positive deltas, not divided by the weights' sum 2.
    QCOMPARE(m.at("layer.bias").to_f32()[0], 3.4f);
    const Floats got = m.at("layer.weight").to_f32(), want = floats(ties_["expected"].toArray());
    for (std::size_t i = 0; i < got.size(); ++i)
      QVERIFY(std::fabs(got[i] - want[i]) <= 2e-6f * std::max(1.0f, std::fabs(want[i])));
    bool recorded = false;
    for (const auto& [k, v] : m.metadata())
      recorded = recorded || (k == "merge_recipe" && v.find("\"filter\":\"bias\"") != std::string::npos);
    QVERIFY(recorded);
  }

  void dtype_and_shards_data() {
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<int>("files");
    QTest::newRow("bf16") << QStringList{"--dtype", "bf16"} << "BF16" << 2;
    // 480 bytes of weight above 200: at least two shards, the index and config.json.
    QTest::newRow("f16 sharded") << QStringList{"--dtype", "f16", "--shard-size", "200B"} << "F16" << 4;
  }

  void dtype_and_shards() {
    QFETCH(QStringList, extra);
    QFETCH(QString, dtype);
    QFETCH(int, files);
    const QString out = path("out/" + QString(QTest::currentDataTag()).replace(' ', '_').toStdString());
    const auto r = test::run_cli(QStringList{"merge", path("recipes/ties.yaml"), "-o", out, "--json"} + extra);
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = QJsonDocument::fromJson(r.out).object();
    const auto list = j["files"].toArray();
    QVERIFY(files == 2 ? list.size() == 2 : list.size() >= files);
    QCOMPARE(list.contains(out + "/model.safetensors.index.json"), files > 2);
    QCOMPARE(j["method"].toString(), QString("ties"));
    QCOMPARE(j["elements"].toInt(), 244);
    const Checkpoint m = open_checkpoint(out.toStdString());
    QCOMPARE(QString::fromStdString(std::string(dtype_name(m.at("layer.weight").dtype()))), dtype);
    const Floats got = m.at("layer.weight").to_f32();
    const Floats want = floats(ties_["expected"].toArray());
    for (std::size_t i = 0; i < got.size(); ++i)
      QVERIFY(std::fabs(got[i] - want[i]) <= 1e-2f * std::max(1.0f, std::fabs(want[i])));
  }

  void dare_seed_changes_the_drop() {
    write_text(dir_ / "recipes/dare.yaml",
               "merge_method: dare_ties\nbase_model: ../models/base\nmodels:\n"
               "  - model: ../models/ft0.safetensors\n    parameters: {weight: 1, density: 0.5}\n"
               "  - model: ../models/ft1.safetensors\n    parameters: {weight: 1, density: 0.5}\n");
    const auto a = test::run_cli({"merge", path("recipes/dare.yaml"), "-o", path("out/dare1"), "--seed", "1"});
    const auto b = test::run_cli({"merge", path("recipes/dare.yaml"), "-o", path("out/dare1b"), "--seed", "1"});
    const auto c = test::run_cli({"merge", path("recipes/dare.yaml"), "-o", path("out/dare2"), "--seed", "2"});
    QVERIFY2(a.code == 0 && b.code == 0 && c.code == 0, a.err.constData());
    const auto wa = open_checkpoint(dir_ / "out/dare1").at("layer.weight").to_f32();
    QCOMPARE(open_checkpoint(dir_ / "out/dare1b").at("layer.weight").to_f32(), wa);
    QVERIFY(open_checkpoint(dir_ / "out/dare2").at("layer.weight").to_f32() != wa);
  }

  void refused_recipes_data() {
    QTest::addColumn<QString>("yaml");
    QTest::addColumn<QString>("message");
    const QString models = "models:\n  - model: ../models/ft0.safetensors\n    parameters: {weight: 1}\n";
    QTest::newRow("unknown method") << "merge_method: frankenmerge\nbase_model: ../models/base\n" + models
                                    << "unknown merge method 'frankenmerge'";
    QTest::newRow("unsupported method") << "merge_method: slerp\nbase_model: ../models/base\n" + models
                                        << "unknown merge method 'slerp'";
    QTest::newRow("unknown top key") << "merge_method: ties\nbase_model: ../models/base\nslices: []\n" + models
                                     << "unknown key 'slices'";
    QTest::newRow("unknown parameter") << "merge_method: ties\nbase_model: ../models/base\nparameters: {lambada: 1}\n" +
                                              models
                                       << "parameters: unknown key 'lambada'";
    QTest::newRow("unknown model parameter")
        << "merge_method: ties\nbase_model: ../models/base\nmodels:\n  - model: ../models/ft0.safetensors\n"
           "    parameters: {weight: 1, epsilon: 0.1}\n"
        << "models[0].parameters: unknown key 'epsilon'";
    QTest::newRow("boolean entry not a boolean")
        << "merge_method: ties\nbase_model: ../models/base\nparameters:\n  normalize: [{filter: bias, value: maybe}]\n" +
               models
        << "parameters.normalize[0].value: 'maybe' is not true or false";
    QTest::newRow("boolean gradient")
        << "merge_method: ties\nbase_model: ../models/base\nparameters: {rescale: [true, false]}\n" + models
        << "parameters.rescale: expected true, false or a list of {filter, value}";
    QTest::newRow("filter entry outside a list")
        << "merge_method: ties\nbase_model: ../models/base\nmodels:\n"
           "  - model: ../models/ft0.safetensors\n    parameters:\n      weight: {filter: mlp, value: 0.5}\n"
        << "models[0].parameters.weight: a {filter, value} entry must be inside a list";
    // Filters without a default entry: the tensors none covers have no weight (mergekit's error).
    QTest::newRow("filter without default")
        << "merge_method: task_arithmetic\nbase_model: ../models/base\nmodels:\n"
           "  - model: ../models/ft0.safetensors\n    parameters:\n      weight:\n"
           "        - filter: bias\n          value: 0.5\n"
        << "model 1: no 'weight' for tensor 'layer.weight'";
    QTest::newRow("density list out of range")
        << "merge_method: ties\nbase_model: ../models/base\nmodels:\n  - model: ../models/ft0.safetensors\n"
           "    parameters: {weight: 1, density: [0.5, 1.2]}\n"
        << "models[0].parameters.density[1]: 1.2 is outside [0, 1]";
    QTest::newRow("criterion needs importance_weighted")
        << "merge_method: ties\nbase_model: ../models/base\nparameters: {criterion: fisher}\n" + models
        << "parameters.criterion: only merge_method importance_weighted";
    QTest::newRow("importance without criterion")
        << "merge_method: importance_weighted\nbase_model: ../models/base\n" + models
        << "importance_weighted needs 'criterion'";
    QTest::newRow("criterion parameter it lacks")
        << "merge_method: importance_weighted\nbase_model: ../models/base\n"
           "parameters: {criterion: magnitude, criterion_params: {eps: 1e-6}}\n" + models
        << "criterion magnitude has no parameter 'eps' (it takes none)";
    QTest::newRow("criterion parameters need importance_weighted")
        << "merge_method: ties\nbase_model: ../models/base\nparameters: {criterion_params: {eps: 1}}\n" + models
        << "parameters.criterion_params: only merge_method importance_weighted";
    QTest::newRow("fisher without stats") << "merge_method: fisher\nbase_model: ../models/base\n" + models
                                          << "scored no tensor";
    QTest::newRow("missing weight") << "merge_method: ties\nbase_model: ../models/base\nmodels:\n"
                                       "  - model: ../models/ft0.safetensors\n"
                                    << "models[0]: missing 'weight'";
    QTest::newRow("missing base") << "merge_method: task_arithmetic\n" + models << "needs a 'base_model'";
    QTest::newRow("bad dtype") << "merge_method: ties\nbase_model: ../models/base\ndtype: int4\n" + models
                               << "dtype: 'int4'";
    QTest::newRow("missing model") << "merge_method: ties\nbase_model: ../models/base\nmodels:\n"
                                      "  - model: ../models/nowhere.safetensors\n    parameters: {weight: 1}\n"
                                   << "nowhere.safetensors";
    QTest::newRow("density out of range")
        << "merge_method: ties\nbase_model: ../models/base\nmodels:\n  - model: ../models/ft0.safetensors\n"
           "    parameters: {weight: 1, density: 1.5}\n"
        << "models[0].parameters.density: 1.5 is outside [0, 1]";
  }

  void refused_recipes() {
    QFETCH(QString, yaml);
    QFETCH(QString, message);
    static int n = 0;
    const std::string name = "recipes/refused-" + std::to_string(++n) + ".yaml";
    write_text(dir_ / name, yaml.toStdString());
    const auto r = test::run_cli({"merge", path(name), "-o", path("out/refused")});
    QVERIFY2(r.code == 1 || r.code == 2, r.err.constData());
    QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    if (!message.contains("nowhere") && !message.contains("scored no tensor") && !message.contains("no parameter"))
      QVERIFY2(r.err.contains(path(name).toUtf8()), r.err.constData());
    QVERIFY(!fs::exists(dir_ / "out/refused"));
  }

  void per_tensor_filters() {
    // Bias deltas are 1, 2, 3 (base 0): at weight .5 each the bias is 3; the weight matrix keeps
    // weight 1 (the default entry). The gradient lambda resolves at t = 0 for every tensor of a
    // model without numbered blocks: .2.
    write_text(dir_ / "recipes/filters.yaml",
               "merge_method: task_arithmetic\nbase_model: ../models/base\nmodels:\n"
               "  - model: ../models/ft0.safetensors\n  - model: ../models/ft1.safetensors\n"
               "  - model: ../models/ft2.safetensors\n"
               "parameters:\n  weight:\n    - filter: bias\n      value: 0.5\n    - value: 1\n"
               "  lambda: [0.2, 0.8]\n");
    const auto r = test::run_cli({"merge", path("recipes/filters.yaml"), "-o", path("out/filters"), "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const Checkpoint m = open_checkpoint(dir_ / "out/filters/model.safetensors");
    QCOMPARE(m.at("layer.bias").to_f32(), Floats(4, 0.2f * 3.0f));
    const auto models = ties_["models"].toArray();
    const Floats base = floats(ties_["base"].toArray()), got = m.at("layer.weight").to_f32();
    std::vector<Floats> x;
    for (const auto& v : models) x.push_back(floats(v.toArray()));
    for (std::size_t j = 0; j < got.size(); ++j) {
      const float want = base[j] + 0.2f * ((x[0][j] - base[j]) + (x[1][j] - base[j]) + (x[2][j] - base[j]));
      QVERIFY2(std::fabs(got[j] - want) < 1e-5f, qPrintable(QString::number(j)));
    }
    const auto tensors = QJsonDocument::fromJson(r.out).object()["tensors"].toArray();
    for (const auto& t : tensors) {
      const auto o = t.toObject();
      if (o["name"] == "layer.bias") QCOMPARE(o["weight"].toArray(), (QJsonArray{0.5, 0.5, 0.5}));
      if (o["name"] == "layer.weight") QCOMPARE(o["weight"].toArray(), (QJsonArray{1, 1, 1}));
      if (!o["copied"].toBool()) QCOMPARE(o["lambda"].toDouble(), 0.2);
    }
    // The text summary shows the values each tensor resolved to.
    const auto t = test::run_cli({"merge", path("recipes/filters.yaml"), "-o", path("out/filters2")});
    QVERIFY2(t.out.contains("w=0.5,0.5,0.5 lambda=0.2"), t.out.constData());
    QVERIFY2(t.out.contains("w=1,1,1 lambda=0.2"), t.out.constData());
    // The recipe, filters included, is in the metadata.
    bool recipe = false;
    for (const auto& [k, v] : m.metadata())
      recipe = recipe || (k == "merge_recipe" && v.find("\"filter\":\"bias\"") != std::string::npos);
    QVERIFY(recipe);
  }

  void fisher_with_statistics() {
    // grad_sq / samples: model 0 -> 1, model 1 -> 0, model 2 -> 3 on every entry of layer.weight,
    // so merged = base + (1 * 1 * tau0 + .4 * 3 * tau2) / (1 + 1.2). layer.bias has no statistics:
    // the weighted mean (1 * 1 + .6 * 2 + .4 * 3) / 2 = 1.7, reported with the tensor.
    const std::vector<std::pair<std::string, float>> stats = {{"s0", 2}, {"s1", 0}, {"s2", 6}};
    fs::create_directories(dir_ / "stats");
    for (const auto& [name, v] : stats)
      write_safetensors(dir_ / ("stats/" + name + ".safetensors"),
                        {TensorToWrite::from_floats("layer.weight@grad_sq", DType::F32, {12, 20}, Floats(240, v))},
                        {{"samples", "2"}});
    write_text(dir_ / "recipes/fisher.yaml",
               "merge_method: fisher\nbase_model: ../models/base\nmodels:\n"
               "  - model: ../models/ft0.safetensors\n    parameters: {weight: 1, stats: ../stats/s0.safetensors}\n"
               "  - model: ../models/ft1.safetensors\n    parameters: {weight: 0.6, stats: ../stats/s1.safetensors}\n"
               "  - model: ../models/ft2.safetensors\n    parameters: {weight: 0.4, stats: ../stats/s2.safetensors}\n");
    const auto r = test::run_cli({"merge", path("recipes/fisher.yaml"), "-o", path("out/fisher")});
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(r.out.contains("importance_weighted merge of 3 model(s)"));
    QVERIFY2(r.out.contains("weighted mean: ") && r.out.contains("layer.bias@grad_sq"), r.out.constData());
    const Checkpoint m = open_checkpoint(dir_ / "out/fisher/model.safetensors");
    QCOMPARE(m.at("layer.bias").to_f32()[0], 1.7f);
    const auto models = ties_["models"].toArray();
    const Floats base = floats(ties_["base"].toArray()), got = m.at("layer.weight").to_f32();
    const Floats x0 = floats(models[0].toArray()), x2 = floats(models[2].toArray());
    for (std::size_t j = 0; j < got.size(); ++j) {
      const float want = base[j] + ((x0[j] - base[j]) + 1.2f * (x2[j] - base[j])) / 2.2f;
      QVERIFY2(std::fabs(got[j] - want) < 1e-5f, qPrintable(QString::number(j)));
    }
    // --criterion and --stats override the recipe: magnitude needs no statistics.
    const auto o = test::run_cli({"merge", path("recipes/fisher.yaml"), "-o", path("out/fisher-mag"), "--criterion",
                                  "magnitude", "--stats", path("stats/s0.safetensors"), path("stats/s1.safetensors"),
                                  path("stats/s2.safetensors")});
    QVERIFY2(o.code == 0, o.err.constData());
    QVERIFY(!o.out.contains("weighted mean: "));
    const auto bad = test::run_cli({"merge", path("recipes/fisher.yaml"), "-o", path("out/fisher-bad"), "--stats",
                                    path("stats/s0.safetensors")});
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("--stats: 1 files for 3 models"), bad.err.constData());
  }

  void misaligned_model_leaves_nothing() {
    static const std::vector<std::int64_t> steps = {7};
    const Floats w(240, 1.0f), b(4, 1.0f);
    write_safetensors(dir_ / "models/other.safetensors",
                      {TensorToWrite::from_floats("layer.weight", DType::F32, {20, 12}, w),
                       TensorToWrite::from_floats("layer.bias", DType::F32, {4}, b),
                       TensorToWrite::from_bytes("steps", DType::I64, {1}, std::as_bytes(std::span(steps)))});
    write_text(dir_ / "recipes/misaligned.yaml",
               "merge_method: task_arithmetic\nbase_model: ../models/base\nmodels:\n"
               "  - model: ../models/other.safetensors\n    parameters: {weight: 1}\n");
    const auto r = test::run_cli({"merge", path("recipes/misaligned.yaml"), "-o", path("out/misaligned")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("other.safetensors: tensor 'layer.weight' has shape [20, 12], the base has [12, 20]"),
             r.err.constData());
    QVERIFY(!fs::exists(dir_ / "out/misaligned"));
  }

  void malformed_corpus_data() {
    QTest::addColumn<QString>("file");
    const QDir d(QString::fromStdString(test::data("merge/malformed").string()));
    const auto files = d.entryList({"*.yaml"}, QDir::Files, QDir::Name);
    QVERIFY(files.size() >= 6);
    for (const auto& f : files) QTest::newRow(qPrintable(f)) << d.filePath(f);
  }

  void malformed_corpus() {
    QFETCH(QString, file);
    const auto r = test::run_cli({"merge", file, "-o", path("out/malformed")});
    QVERIFY2(r.code == 1, r.err.constData());
    QVERIFY2(r.err.contains(file.toUtf8()), r.err.constData());
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY(!fs::exists(dir_ / "out/malformed"));
  }
};

QTEST_GUILESS_MAIN(TestCliMerge)
#include "test_cli_merge.moc"
