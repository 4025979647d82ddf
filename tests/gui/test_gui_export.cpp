// Masks and maps exported from the GUI go through the same core selection and writers as the
// CLI: the mask written by the dialog's job has the bits write_mask writes for the same spec, its
// densities are reported, the HDF5 map holds the scores, and a cancelled export leaves no file.
#include <QSignalSpy>
#include <QtTest>

#include <cmath>
#include <filesystem>

#include "export_work.h"
#include "gui_test_support.h"
#include "jobs_model.h"
#include "number_format.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/mask.h"
#include "paramscope/writers.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

ui::ComputeRequest magnitude(const char* granularity = "neuron", const char* reduction = "l2") {
  return {QStringLiteral("magnitude"), QLatin1String(granularity), QLatin1String(reduction), {}, {}};
}

// Runs work as a job of the model and waits for it to end.
ui::Job* runJob(ui::JobsModel& jobs, ui::Job::Work work, bool cancelAtOnce = false) {
  ui::Job* job = jobs.start(QStringLiteral("export"), std::move(work));
  if (cancelAtOnce) job->cancel();
  QSignalSpy finished(job, &ui::Job::finished);
  if (job->running() && !finished.wait(20000)) qFatal("job did not end");
  return job;
}

std::vector<fs::path> filesIn(const QString& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir.toStdString())) out.push_back(e.path().filename());
  return out;
}

}  // namespace

class TestGuiExport : public QObject {
  Q_OBJECT

private slots:
  void maskEqualsCore_data();
  void maskEqualsCore();
  void elementMapsHoldTheScores();
  void reducedMapsAndSummary();
  void badRequestsAreRefused_data();
  void badRequestsAreRefused();
  void cancelLeavesNoFile_data();
  void cancelLeavesNoFile();

private:
  QTemporaryDir tmp_;
};

void TestGuiExport::maskEqualsCore_data() {
  QTest::addColumn<QString>("top");
  QTest::addColumn<QString>("scope");
  QTest::addColumn<bool>("u8");
  QTest::newRow("10% global bool") << "10%" << "global" << false;
  QTest::newRow("25% tensor u8") << "25%" << "tensor" << true;
  QTest::newRow("50% row bool") << "50%" << "row" << false;
  QTest::newRow("2:4 bool") << "10%" << "2:4" << false;
  QTest::newRow("100 global u8") << "100" << "global" << true;
  QTest::newRow("threshold 0.05") << "0.05" << "threshold" << false;
}

void TestGuiExport::maskEqualsCore() {
  QFETCH(QString, top);
  QFETCH(QString, scope);
  QFETCH(bool, u8);
  const auto c = test::load("gui/tiny_llama.safetensors");
  const QString tag = QString(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_'));
  ui::MaskExportRequest r{magnitude(), top, scope, u8, tmp_.filePath(tag + QStringLiteral(".gui.safetensors"))};
  ui::JobsModel jobs;
  std::shared_ptr<const ui::MaskExportResult> result;
  ui::Job* job = runJob(jobs, ui::maskExportWork(c, r, [&](std::shared_ptr<const ui::MaskExportResult> x) { result = x; }));
  QCOMPARE(job->state(), ui::Job::State::Done);
  QVERIFY(result);

  // The same spec through the core directly.
  const fs::path ref = tmp_.filePath(tag + QStringLiteral(".core.safetensors")).toStdString();
  const auto field = make_score_field(*c, select_tensors(*c, {}), CriterionRegistry::builtin().get("magnitude"), {});
  const MaskSummary expected = write_mask(ref, *field, MaskSpec::parse(top.toStdString(), scope.toStdString()),
                                          u8 ? DType::U8 : DType::BOOL, ThreadPool::global());
  const Checkpoint gui = open_checkpoint(r.output.toStdString());
  const Checkpoint core = open_checkpoint(ref);
  QCOMPARE(gui.tensors().size(), core.tensors().size());
  QCOMPARE(gui.tensors().size(), field->size());
  std::int64_t ones = 0;
  for (const Tensor& t : core.tensors()) {
    const Tensor& g = gui.at(t.name());
    QVERIFY(g.dtype() == (u8 ? DType::U8 : DType::BOOL));
    QCOMPARE(g.shape(), t.shape());
    const auto a = g.raw_bytes(), b = t.raw_bytes();
    QVERIFY(!a.empty() && a.size() == b.size());
    QVERIFY2(std::equal(a.begin(), a.end(), b.begin()), t.name().c_str());
    for (std::byte x : a) ones += x != std::byte{0};
  }
  // The densities the dialog reports are the ones in the file.
  QCOMPARE(result->summary.kept, expected.kept);
  QCOMPARE(result->summary.kept, ones);
  QCOMPARE(result->summary.total, expected.total);
  QVERIFY(result->summary.kept > 0 && result->summary.kept <= result->summary.total);
  const QString report = ui::densityReport(*result);
  QVERIFY2(report.contains(QStringLiteral("%1 of %2 kept").arg(ui::formatCount(static_cast<std::uint64_t>(ones)),
                                                                ui::formatCount(static_cast<std::uint64_t>(expected.total)))),
           qPrintable(report));
  for (const auto& t : expected.tensors)
    QVERIFY2(report.contains(QStringLiteral("%1  %2 %").arg(QString::fromStdString(t.name)).arg(100 * t.density(), 0, 'f', 2)),
             qPrintable(report));
}

void TestGuiExport::elementMapsHoldTheScores() {
  const auto c = test::load("gui/tiny_llama.safetensors");
  ui::MapsExportRequest r{magnitude(), true, tmp_.filePath(QStringLiteral("maps.h5")),
                          tmp_.filePath(QStringLiteral("maps.summary.json"))};
  ui::JobsModel jobs;
  QString message;
  ui::Job* job = runJob(jobs, ui::mapsExportWork(c, r, [&](const QString& m) { message = m; }));
  QCOMPARE(job->state(), ui::Job::State::Done);
  QVERIFY(message.contains(QStringLiteral("maps.h5")));
  const Checkpoint maps = open_checkpoint(r.output.toStdString());
  const auto selected = select_tensors(*c, {});
  QCOMPARE(maps.tensors().size(), selected.size());
  for (std::size_t i : selected) {
    const Tensor& w = c->tensors()[i];
    const std::vector<float> m = maps.at(w.name()).to_f32(), v = w.to_f32();
    QCOMPARE(maps.at(w.name()).shape(), w.shape());
    for (std::size_t k = 0; k < v.size(); ++k) QCOMPARE(m[k], std::abs(v[k]));  // magnitude: |w|
  }
  QFile summary(r.summary);
  QVERIFY(summary.open(QIODevice::ReadOnly));
  const QJsonObject j = QJsonDocument::fromJson(summary.readAll()).object();
  QVERIFY(!j.isEmpty());
}

void TestGuiExport::reducedMapsAndSummary() {
  // The Importance dock's granularity: L2 per neuron (row) of |w| = the row's L2 norm.
  const auto c = test::load("gui/tiny_llama.safetensors");
  ui::MapsExportRequest r{magnitude("neuron", "l2"), false, tmp_.filePath(QStringLiteral("rows.h5")),
                          tmp_.filePath(QStringLiteral("rows.csv"))};
  ui::JobsModel jobs;
  ui::Job* job = runJob(jobs, ui::mapsExportWork(c, r, [](const QString&) {}));
  QCOMPARE(job->state(), ui::Job::State::Done);
  const Checkpoint maps = open_checkpoint(r.output.toStdString());
  int checked = 0;
  for (std::size_t i : select_tensors(*c, {})) {
    const Tensor& w = c->tensors()[i];
    const std::vector<float> m = maps.at(w.name()).to_f32(), v = w.to_f32();
    const auto rows = w.shape()[0], cols = w.numel() / rows;
    QCOMPARE(static_cast<std::int64_t>(m.size()), rows);
    for (std::int64_t row = 0; row < rows; ++row) {
      double sq = 0;
      for (std::int64_t k = 0; k < cols; ++k) sq += static_cast<double>(v[static_cast<std::size_t>(row * cols + k)]) * v[static_cast<std::size_t>(row * cols + k)];
      QVERIFY(std::abs(m[static_cast<std::size_t>(row)] - std::sqrt(sq)) <= 1e-5 * std::sqrt(sq) + 1e-12);
    }
    ++checked;
  }
  QVERIFY(checked >= 7);
  QFile csv(r.summary);
  QVERIFY(csv.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(csv.readAll());
  QVERIFY(text.startsWith(QStringLiteral("level")));
  QCOMPARE(text.count(QStringLiteral("\ntensor,")), checked);
}

void TestGuiExport::badRequestsAreRefused_data() {
  QTest::addColumn<QString>("criterion");
  QTest::addColumn<QString>("top");
  QTest::addColumn<QString>("scope");
  QTest::addColumn<QString>("output");
  QTest::newRow("per-matrix criterion") << "spectral-norm" << "10%" << "global" << "m.safetensors";
  QTest::newRow("unknown criterion") << "nope" << "10%" << "global" << "m.safetensors";
  QTest::newRow("bad top") << "magnitude" << "ten" << "global" << "m.safetensors";
  QTest::newRow("bad scope") << "magnitude" << "10%" << "diagonal" << "m.safetensors";
  QTest::newRow("no output") << "magnitude" << "10%" << "global" << "";
}

void TestGuiExport::badRequestsAreRefused() {
  QFETCH(QString, criterion);
  QFETCH(QString, top);
  QFETCH(QString, scope);
  QFETCH(QString, output);
  ui::MaskExportRequest r{{criterion, QStringLiteral("neuron"), QStringLiteral("l2"), {}, {}}, top, scope, false, output};
  try {
    ui::checkMaskRequest(r);
    QFAIL("accepted");
  } catch (const Error& e) {
    QCOMPARE(e.kind(), Error::Kind::Usage);
  }
  // Maps: nothing to write, or element maps of a per-matrix criterion.
  ui::MapsExportRequest m{magnitude(), true, {}, {}};
  QVERIFY_THROWS_EXCEPTION(Error, ui::checkMapsRequest(m));
  m = {{QStringLiteral("spectral-norm"), QStringLiteral("tensor"), QStringLiteral("l2"), {}, {}}, true, QStringLiteral("x.h5"), {}};
  QVERIFY_THROWS_EXCEPTION(Error, ui::checkMapsRequest(m));
  m.element = false;
  ui::checkMapsRequest(m);  // tensor granularity is fine
}

void TestGuiExport::cancelLeavesNoFile_data() {
  QTest::addColumn<bool>("mask");
  QTest::newRow("mask") << true;
  QTest::newRow("maps") << false;
}

void TestGuiExport::cancelLeavesNoFile() {
  QFETCH(bool, mask);
  // A 2048 x 2048 float matrix: long enough for the cancel to land while the job works.
  QTemporaryDir dir;
  const int n = 2048;
  std::vector<float> v(static_cast<std::size_t>(n) * n);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 977) - 488.0f;
  const fs::path input = fs::path(dir.path().toStdString()) / "big.safetensors";
  write_safetensors(input, {TensorToWrite::from_floats("layers.0.mlp.up_proj.weight", DType::F32, {n, n}, v)});
  const auto c = std::make_shared<const Checkpoint>(open_checkpoint(input));
  ui::JobsModel jobs;
  bool delivered = false;
  ui::Job* job =
      mask ? runJob(jobs,
                    ui::maskExportWork(c, {magnitude(), QStringLiteral("10%"), QStringLiteral("global"), false,
                                           dir.filePath(QStringLiteral("out.safetensors"))},
                                       [&](auto) { delivered = true; }),
                    true)
           : runJob(jobs,
                    ui::mapsExportWork(c, {magnitude(), true, dir.filePath(QStringLiteral("out.h5")), {}},
                                       [&](const QString&) { delivered = true; }),
                    true);
  QCOMPARE(job->state(), ui::Job::State::Cancelled);
  QVERIFY(!delivered);
  const auto files = filesIn(dir.path());
  QCOMPARE(files.size(), std::size_t{1});  // the input only: no output, no temporary file
  QCOMPARE(files[0], fs::path("big.safetensors"));
}

PARAMSCOPE_GUI_TEST_MAIN(TestGuiExport)
#include "test_gui_export.moc"
