// read_image and ImageFolder against PIL: tests/tools/make_image_fixtures.py computed every
// reference with PIL and numpy as torchvision's ImageFolder + Resize + ToTensor + Normalize do
// (convert, resize BILINEAR, x * scale, (x - mean) / std). Then the folder layouts, the option
// and folder errors, and the malformed corpus of tests/data/malformed/images.
//
// Measured against PIL 9.4 with Debian's libjpeg-turbo 2.1.5 (the one PIL links): every PNG and
// JPEG case equals PIL's output exactly, resized ones included (the resize uses PIL's 22-bit
// fixed point; summing in float instead had put 1-3% of resized samples one level off). So PNG
// cases must match exactly ("levels": 0 in cases.json); JPEG cases allow 2 levels, for libjpeg
// builds whose IDCT or upsampling rounds differently from the one the references were made with.
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

#include "error_kind.h"
#include "json_file.h"
#include "malformed.h"
#include "paramscope/error.h"
#include "paramscope/images.h"
#include "paramscope/npy.h"
#include "test_paths.h"

using namespace paramscope;
namespace fs = std::filesystem;

namespace {

fs::path images(const std::string& rel) {
  return test::data("images") / rel;
}

std::vector<float> floats(const QJsonArray& a) {
  std::vector<float> out;
  for (const auto& v : a) out.push_back(static_cast<float>(v.toDouble()));
  return out;
}

ImageOptions options_from(const QJsonObject& c) {
  ImageOptions o;
  o.height = c["height"].toInteger();
  o.width = c["width"].toInteger();
  o.channels = c["channels"].toInt(3);
  o.scale = static_cast<float>(c["scale"].toDouble(1.0 / 255.0));
  o.mean = floats(c["mean"].toArray());
  o.std = floats(c["std"].toArray());
  o.nhwc = c["nhwc"].toBool(false);
  return o;
}

// got against a reference: the same shape, and no sample further than `levels` grey levels (one
// level is scale / std of its channel; 0 levels leaves only float rounding, far below a level).
void expect_close(const Array& got, const Array& want, const ImageOptions& o, double levels) {
  QCOMPARE(got.type(), DType::F32);
  QCOMPARE(got.shape(), want.shape());
  const double min_std = o.std.empty() ? 1.0 : *std::min_element(o.std.begin(), o.std.end());
  const double tolerance = (levels + 1e-3) * o.scale / min_std;
  const auto g = got.values<float>();
  const auto w = want.values<float>();
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::fabs(static_cast<double>(g[i]) - w[i]);
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  QVERIFY2(worst <= tolerance, qPrintable(QString("sample %1: %2, PIL %3 (tolerance %4)")
                                              .arg(at).arg(g[at]).arg(w[at]).arg(tolerance)));
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

// Runs f and checks it throws Error of `kind` whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, Error::Kind kind, const QStringList& parts) {
  try {
    f();
    QFAIL("no error");
  } catch (const Error& e) {
    QCOMPARE(QString(test::kind_name(e.kind())), QString(test::kind_name(kind)));
    for (const auto& part : parts) QVERIFY2(QString::fromUtf8(e.what()).contains(part), e.what());
    QVERIFY2(!QString::fromUtf8(e.what()).contains('\n'), e.what());
  }
}

ImageOptions sized(std::int64_t h, std::int64_t w) {
  ImageOptions o;
  o.height = h;
  o.width = w;
  return o;
}

}  // namespace

class TestImages : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  fs::path tmp(const std::string& rel) const { return fs::path(tmp_.path().toStdString()) / rel; }

 private slots:
  // ---- single images against PIL ----

  void matches_pil_data() {
    QTest::addColumn<QJsonObject>("c");
    const auto cases = test::read_json(images("expected/cases.json"));
    QVERIFY(cases.size() >= 40);
    for (auto it = cases.begin(); it != cases.end(); ++it) QTest::newRow(qPrintable(it.key())) << it.value().toObject();
  }
  void matches_pil() {
    QFETCH(QJsonObject, c);
    const ImageOptions o = options_from(c);
    const Array got = read_image(images(c["file"].toString().toStdString()), o);
    const Array want = read_npy(images("expected/" + c["npy"].toString().toStdString()));
    expect_close(got, want, o, c["levels"].toDouble());
  }

  void layouts_and_channels() {
    // The same pixels in [C,H,W] and [H,W,C]; grey replicated into three equal channels.
    ImageOptions chw = sized(7, 9), hwc = chw;
    hwc.nhwc = true;
    const Array a = read_image(images("rgb.png"), chw), b = read_image(images("rgb.png"), hwc);
    QCOMPARE(a.shape(), (std::vector<std::int64_t>{3, 7, 9}));
    QCOMPARE(b.shape(), (std::vector<std::int64_t>{7, 9, 3}));
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t i = 0; i < 63; ++i) QCOMPARE(a.values<float>()[c * 63 + i], b.values<float>()[i * 3 + c]);
    const Array g = read_image(images("grey.png"), ImageOptions{});
    QCOMPARE(g.shape(), (std::vector<std::int64_t>{3, 11, 13}));
    for (std::int64_t i = 0; i < 143; ++i) {
      QCOMPARE(g.values<float>()[i], g.values<float>()[143 + i]);
      QCOMPARE(g.values<float>()[i], g.values<float>()[286 + i]);
    }
  }

  void format_from_magic_bytes_data() {
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("renamed");
    QTest::newRow("PNG named .jpg") << "rgb.png" << "photo.jpg";
    QTest::newRow("JPEG named .png") << "rgb.jpg" << "photo.png";
    QTest::newRow("JPEG without extension") << "grey.jpg" << "image";
  }
  void format_from_magic_bytes() {
    QFETCH(QString, source);
    QFETCH(QString, renamed);
    const fs::path copy = tmp("magic") / renamed.toStdString();
    fs::create_directories(copy.parent_path());
    fs::copy_file(images(source.toStdString()), copy, fs::copy_options::overwrite_existing);
    const Array a = read_image(images(source.toStdString()), ImageOptions{});
    const Array b = read_image(copy, ImageOptions{});
    QCOMPARE(b.shape(), a.shape());
    QVERIFY(std::equal(a.bytes(), a.bytes() + a.byte_size(), b.bytes()));
  }

  void options_are_checked_data() {
    QTest::addColumn<qint64>("height");
    QTest::addColumn<qint64>("width");
    QTest::addColumn<int>("channels");
    QTest::addColumn<QList<float>>("mean");
    QTest::addColumn<QList<float>>("std");
    QTest::addColumn<QString>("message");
    QTest::newRow("height only") << 8ll << 0ll << 3 << QList<float>{} << QList<float>{} << "both must be positive";
    QTest::newRow("negative") << -8ll << 8ll << 3 << QList<float>{} << QList<float>{} << "both must be positive";
    QTest::newRow("too many pixels") << 20000ll << 20000ll << 3 << QList<float>{} << QList<float>{}
                                     << "exceed the limit of 268435456 pixels";
    QTest::newRow("two channels") << 0ll << 0ll << 2 << QList<float>{} << QList<float>{} << "not 2";
    QTest::newRow("mean of two") << 0ll << 0ll << 3 << QList<float>{0.5f, 0.5f} << QList<float>{}
                                 << "mean has 2 values for 3 channels";
    QTest::newRow("std of three for grey") << 0ll << 0ll << 1 << QList<float>{} << QList<float>{1, 1, 1}
                                           << "std has 3 values for 1 channels";
    QTest::newRow("zero std") << 0ll << 0ll << 3 << QList<float>{} << QList<float>{0.2f, 0.0f, 0.2f}
                              << "must be nonzero";
    QTest::newRow("NaN std") << 0ll << 0ll << 3 << QList<float>{} << QList<float>{std::nanf("")}
                             << "must be nonzero";
  }
  void options_are_checked() {
    QFETCH(qint64, height);
    QFETCH(qint64, width);
    QFETCH(int, channels);
    QFETCH(QList<float>, mean);
    QFETCH(QList<float>, std);
    QFETCH(QString, message);
    ImageOptions o = sized(height, width);
    o.channels = channels;
    o.mean.assign(mean.begin(), mean.end());
    o.std.assign(std.begin(), std.end());
    expect_error([&] { read_image(images("rgb.png"), o); }, Error::Kind::Usage, {message});
    if (QTest::currentTestFailed()) return;
    expect_error([&] { ImageFolder(images("flat"), o); }, Error::Kind::Usage, {message});
  }

  void unreadable_files_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("missing") << "no_such_image.png";
    QTest::newRow("a folder") << "folder";
  }
  void unreadable_files() {
    QFETCH(QString, file);
    const fs::path p = images(file.toStdString());
    expect_error([&] { read_image(p, ImageOptions{}); }, Error::Kind::Io, {QString::fromStdString(p.string())});
  }

  // ---- the malformed corpus ----

  void malformed_corpus_data() { test::add_corpus_rows(test::data("malformed/images/expected.json")); }
  void malformed_corpus() {
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const fs::path p = test::data("malformed/images") / file.toStdString();
    test::expect_clear_error_from([](const fs::path& f) { read_image(f, sized(4, 4)); }, p, message, kind);
  }
  void malformed_corpus_complete() {
    // Every file of the folder has an expectation and the other way round.
    const auto expected = test::read_json(test::data("malformed/images/expected.json"));
    std::set<QString> on_disk;
    for (const auto& e : fs::directory_iterator(test::data("malformed/images")))
      if (e.path().filename() != "expected.json") on_disk.insert(QString::fromStdString(e.path().filename().string()));
    const auto keys = expected.keys();
    QCOMPARE(on_disk, std::set<QString>(keys.begin(), keys.end()));
  }
  void batch_reports_the_broken_file() {
    // A broken image among good ones: the parallel batch rethrows its error, naming it.
    const fs::path dir = tmp("broken_batch");
    fs::create_directories(dir);
    for (const char* f : {"a.png", "b.png", "d.png"}) fs::copy_file(images("rgb.png"), dir / f);
    fs::copy_file(test::data("malformed/images/truncated.png"), dir / "c.png");
    const ImageFolder folder(dir, sized(4, 4));
    QCOMPARE(folder.size(), std::int64_t{4});
    QCOMPARE(folder.batch(0, 2).shape(), (std::vector<std::int64_t>{2, 3, 4, 4}));
    expect_error([&] { folder.batch(0, 4); }, Error::Kind::BadInput,
                 {QString::fromStdString((dir / "c.png").string()) + ": is a corrupt PNG", "truncated"});
  }

  // ---- folders ----

  void class_folder() {
    const auto want = test::read_json(images("expected/folder.json"))["folder"].toObject();
    ImageOptions o = sized(want["height"].toInteger(), want["width"].toInteger());
    o.mean = floats(want["mean"].toArray());
    o.std = floats(want["std"].toArray());
    const ImageFolder folder(images("folder"), o);

    QStringList files;
    for (const auto& f : folder.files())
      files << QString::fromStdString(f.lexically_relative(images("folder")).generic_string());
    QCOMPARE(files, want["files"].toVariant().toStringList());
    QStringList classes;
    for (const auto& c : folder.classes()) classes << QString::fromStdString(c);
    QCOMPARE(classes, want["classes"].toVariant().toStringList());
    const auto labels = folder.labels();
    QVERIFY(labels.has_value());
    QCOMPARE(labels->type(), DType::I64);
    QCOMPARE(labels->shape(), (std::vector<std::int64_t>{folder.size()}));
    const auto want_labels = want["labels"].toArray();
    for (std::int64_t i = 0; i < folder.size(); ++i) QCOMPARE(labels->values<std::int64_t>()[i], std::int64_t{want_labels[i].toInteger()});

    const Array all = folder.batch(0, folder.size());
    expect_close(all, read_npy(images("expected/" + want["batch"].toString().toStdString())), o,
                 want["levels"].toDouble());
    if (QTest::currentTestFailed()) return;
    // A batch from the middle is the same rows, and so is each image read alone.
    const Array part = folder.batch(2, 3);
    QCOMPARE(part.shape(), (std::vector<std::int64_t>{3, 3, 5, 6}));
    const std::size_t one = 3 * 5 * 6;
    QVERIFY(std::equal(part.values<float>().begin(), part.values<float>().end(), all.values<float>().begin() + 2 * one));
    const Array alone = read_image(folder.files()[4], o);
    QVERIFY(std::equal(alone.values<float>().begin(), alone.values<float>().end(), all.values<float>().begin() + 4 * one));
  }

  void flat_folder() {
    const auto want = test::read_json(images("expected/folder.json"))["flat"].toObject();
    ImageOptions o;
    o.channels = want["channels"].toInt();
    o.nhwc = want["nhwc"].toBool();
    const ImageFolder folder(images("flat"), o);
    QStringList files;
    for (const auto& f : folder.files()) files << QString::fromStdString(f.filename().string());
    QCOMPARE(files, want["files"].toVariant().toStringList());
    QVERIFY(folder.classes().empty());
    QVERIFY(!folder.labels().has_value());
    const Array all = folder.batch(0, 3);
    QCOMPARE(all.shape(), (std::vector<std::int64_t>{3, 7, 9, 1}));  // the files' own size
    expect_close(all, read_npy(images("expected/" + want["batch"].toString().toStdString())), o,
                 want["levels"].toDouble());
    QCOMPARE(folder.batch(3, 0).shape(), (std::vector<std::int64_t>{0, 0, 0, 1}));
  }

  void sizes_must_agree_when_kept() {
    const ImageFolder kept(images("mixed"), ImageOptions{});
    QCOMPARE(kept.batch(0, 1).shape(), (std::vector<std::int64_t>{1, 3, 7, 9}));
    QCOMPARE(kept.batch(1, 1).shape(), (std::vector<std::int64_t>{1, 3, 7, 8}));
    const QString a = QString::fromStdString(images("mixed/a.png").string());
    const QString b = QString::fromStdString(images("mixed/b.png").string());
    expect_error([&] { kept.batch(0, 2); }, Error::Kind::BadInput,
                 {b + ": is 8x7 pixels, but " + a + " in the same batch is 9x7", "set an image size"});
    const ImageFolder resized(images("mixed"), sized(5, 6));
    QCOMPARE(resized.batch(0, 2).shape(), (std::vector<std::int64_t>{2, 3, 5, 6}));
  }

  void batch_range_is_checked_data() {
    QTest::addColumn<qint64>("first");
    QTest::addColumn<qint64>("count");
    QTest::newRow("negative first") << -1ll << 1ll;
    QTest::newRow("negative count") << 0ll << -1ll;
    QTest::newRow("past the end") << 2ll << 2ll;
    QTest::newRow("first past the end") << 4ll << 0ll;
    QTest::newRow("overflowing") << 1ll << std::numeric_limits<qint64>::max();
  }
  void batch_range_is_checked() {
    QFETCH(qint64, first);
    QFETCH(qint64, count);
    const ImageFolder folder(images("flat"), ImageOptions{});
    expect_error([&] { folder.batch(first, count); }, Error::Kind::Usage, {"outside the folder's 3 images"});
  }

  void folder_errors_data() {
    QTest::addColumn<QStringList>("entries");  // files to create; a trailing '/' makes a folder
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << QStringList{} << int(Error::Kind::BadInput) << "holds no image";
    QTest::newRow("no image") << QStringList{"notes.txt", "x.gif", ".hidden.png"} << int(Error::Kind::BadInput)
                              << "holds no image";
    QTest::newRow("images and folders") << QStringList{"a.png", "cls/b.png"} << int(Error::Kind::BadInput)
                                        << "holds both images ('a.png') and class folders ('cls')";
    QTest::newRow("empty class") << QStringList{"cat/a.png", "dog/"} << int(Error::Kind::BadInput)
                                 << "class folder 'dog' holds no image";
    QTest::newRow("class of hidden files") << QStringList{"cat/a.png", "dog/.a.png", "dog/.sub/b.png"}
                                           << int(Error::Kind::BadInput) << "class folder 'dog' holds no image";
    QTest::newRow("not a folder") << QStringList{"@"} << int(Error::Kind::Io) << "is not a folder";
    QTest::newRow("missing") << QStringList{"@missing"} << int(Error::Kind::Io) << "cannot open the folder";
  }
  void folder_errors() {
    QFETCH(QStringList, entries);
    QFETCH(int, kind);
    QFETCH(QString, message);
    const fs::path dir = tmp(std::string("folders/") + QTest::currentDataTag());
    fs::create_directories(dir);
    fs::path open = dir;
    for (const auto& e : entries) {
      if (e == "@") {  // the folder is a file
        open = dir / "file.png";
        fs::copy_file(images("rgb.png"), open, fs::copy_options::overwrite_existing);
      } else if (e == "@missing") {
        open = dir / "missing";
      } else if (e.endsWith('/')) {
        fs::create_directories(dir / e.toStdString());
      } else {
        fs::create_directories((dir / e.toStdString()).parent_path());
        fs::copy_file(images("rgb.png"), dir / e.toStdString(), fs::copy_options::overwrite_existing);
      }
    }
    expect_error([&] { ImageFolder(open, ImageOptions{}); }, static_cast<Error::Kind>(kind),
                 {QString::fromStdString(open.string()) + ": ", message});
  }

  void hidden_and_other_files_are_skipped() {
    // Only *.png / *.jpg / *.jpeg count, in any case; the magic bytes decide the format.
    const fs::path dir = tmp("extensions");
    for (const char* f : {"a.PNG", "b.Jpeg", "c.jpg", "d.bmp", "e.png.txt", ".f.png"})
      write_file(dir / f, std::string(1, 'x'));
    const ImageFolder folder(dir, ImageOptions{});
    QStringList files;
    for (const auto& f : folder.files()) files << QString::fromStdString(f.filename().string());
    QCOMPARE(files, (QStringList{"a.PNG", "b.Jpeg", "c.jpg"}));
    expect_error([&] { folder.batch(0, 1); }, Error::Kind::Unsupported, {"a.PNG: is not a PNG or JPEG image"});
  }
};

QTEST_GUILESS_MAIN(TestImages)
#include "test_images.moc"
