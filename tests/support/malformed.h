// The contract every reader keeps on the malformed-file corpus: opening gives one Error (bad
// input, unsupported or I/O) whose one-line message names the file and says what is wrong, and
// the file is left unchanged.
#pragma once

#include <QDir>
#include <QString>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "error_kind.h"
#include "json_file.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"

namespace paramscope::test {

inline std::vector<char> file_contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// The same contract for any reader: open(p) must throw. kind: the expected kind's name
/// (kind_name), or empty for any of bad input, unsupported and I/O.
template <class Open>
void expect_clear_error_from(Open&& open, const std::filesystem::path& p, const QString& message,
                             const QString& kind = {}) {
  const bool file = std::filesystem::is_regular_file(p);
  const auto before = file ? file_contents(p) : std::vector<char>{};
  try {
    open(p);
    QFAIL("no error");
  } catch (const Error& e) {
    const QString what = QString::fromUtf8(e.what());
    if (!kind.isEmpty())
      QCOMPARE(QString(kind_name(e.kind())), kind);
    else
      QVERIFY2(e.kind() == Error::Kind::BadInput || e.kind() == Error::Kind::Unsupported || e.kind() == Error::Kind::Io,
               e.what());
    QVERIFY2(what.startsWith(QString::fromStdString(p.string())), e.what());  // names the file
    QVERIFY2(what.contains(message), e.what());
    QVERIFY2(!what.contains('\n'), e.what());  // one line
  }
  if (file) QVERIFY2(file_contents(p) == before, "the input file was changed");
}

/// Call as `expect_clear_error(p, msg); if (QTest::currentTestFailed()) return;` (QVERIFY returns).
inline void expect_clear_error(const std::filesystem::path& p, const QString& message) {
  expect_clear_error_from([](const std::filesystem::path& f) { open_checkpoint(f); }, p, message);
}

/// Data rows (file, kind, message) from a corpus' expected.json ({"file": {"kind", "message"}}).
inline void add_corpus_rows(const std::filesystem::path& expected_json) {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("message");
  const auto expected = read_json(expected_json);
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    const auto e = it.value().toObject();
    QTest::newRow(qPrintable(it.key())) << it.key() << e["kind"].toString() << e["message"].toString();
  }
}

/// Every `*.<ext>` file of a corpus folder has an expectation (by base name), and the other way
/// round, so no broken file is silently skipped.
inline void expect_corpus_complete(const std::filesystem::path& folder, const QString& ext,
                                   const std::set<std::string>& known) {
  const QDir dir(QString::fromStdString(folder.string()));
  const auto files = dir.entryList({"*." + ext}, QDir::Files);
  for (const auto& f : files)
    QVERIFY2(known.count(f.chopped(static_cast<int>(ext.size()) + 1).toStdString()),
             qPrintable(f + " has no expectation"));
  QCOMPARE(static_cast<std::size_t>(files.size()), known.size());
}

}  // namespace paramscope::test
