// Reads the JSON references that the fixture scripts write beside their outputs.
#pragma once

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <filesystem>

namespace paramscope::test {

inline QJsonObject read_json(const std::filesystem::path& path) {
  QFile f(QString::fromStdString(path.string()));
  if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", path.c_str());
  QJsonParseError err{};
  const auto doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError) qFatal("bad JSON in %s", path.c_str());
  return doc.object();
}

}  // namespace paramscope::test
