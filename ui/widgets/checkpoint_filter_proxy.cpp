#include "checkpoint_filter_proxy.h"

#include <QRegularExpression>

#include "checkpoint_tree_model.h"

namespace paramscope::ui {

// (QCollator's numeric mode needs ICU, which Debian's Qt 6 is built without.)
int naturalCompare(QStringView a, QStringView b) {
  qsizetype i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].isDigit() && b[j].isDigit()) {
      // Compare the numbers: skip leading zeros, then the longer run is larger, else digit-wise.
      qsizetype ei = i, ej = j;
      while (ei < a.size() && a[ei].isDigit()) ++ei;
      while (ej < b.size() && b[ej].isDigit()) ++ej;
      qsizetype si = i, sj = j;
      while (si + 1 < ei && a[si] == u'0') ++si;
      while (sj + 1 < ej && b[sj] == u'0') ++sj;
      if (ei - si != ej - sj) return ei - si < ej - sj ? -1 : 1;
      if (const int c = a.sliced(si, ei - si).compare(b.sliced(sj, ej - sj)); c != 0) return c;
      i = ei;
      j = ej;
      continue;
    }
    const QChar ca = a[i].toCaseFolded(), cb = b[j].toCaseFolded();
    if (ca != cb) return ca < cb ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

CheckpointFilterProxy::CheckpointFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(CheckpointTreeModel::SortRole);
  setFilterRole(CheckpointTreeModel::FilterRole);
  setFilterKeyColumn(CheckpointTreeModel::NameColumn);
  // A matching tensor keeps its block and checkpoint visible.
  setRecursiveFilteringEnabled(true);
  setDynamicSortFilter(true);
}

void CheckpointFilterProxy::setNameFilter(const QString& text) {
  const QString trimmed = text.trimmed();
  QRegularExpression re;
  if (trimmed.contains(QLatin1Char('*')) || trimmed.contains(QLatin1Char('?')))
    re.setPattern(QRegularExpression::wildcardToRegularExpression(trimmed, QRegularExpression::UnanchoredWildcardConversion));
  else
    re.setPattern(QRegularExpression::escape(trimmed));
  re.setPatternOptions(QRegularExpression::CaseInsensitiveOption);
  setFilterRegularExpression(re);
}

bool CheckpointFilterProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  const QVariant l = left.data(sortRole());
  const QVariant r = right.data(sortRole());
  if (l.typeId() == QMetaType::QString && r.typeId() == QMetaType::QString)
    return naturalCompare(l.toString(), r.toString()) < 0;
  return QVariant::compare(l, r) == QPartialOrdering::Less;
}

}  // namespace paramscope::ui
