// The checkpoint tree (checkpoint -> blocks -> tensors) and its sort/filter proxy, checked with
// QAbstractItemModelTester on real fixtures.
#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QtTest>

#include "checkpoint_filter_proxy.h"
#include "checkpoint_tree_model.h"
#include "gui_test_support.h"
#include "io/checkpoint_builder.h"
#include "number_format.h"
#include "tensor/tensor_source.h"

using namespace paramscope;
using ui::CheckpointFilterProxy;
using ui::CheckpointTreeModel;
using Node = CheckpointTreeModel::Node;

namespace {

QString shapeText(const QJsonArray& shape) {
  QStringList dims;
  for (const auto& d : shape) dims << QString::number(d.toInteger());
  return QLatin1Char('[') + dims.join(QStringLiteral(", ")) + QLatin1Char(']');
}

QVariant cell(const QAbstractItemModel& m, const QModelIndex& row, int column, int role = Qt::DisplayRole) {
  return m.index(row.row(), column, row.parent()).data(role);
}

// "block: tensor, tensor; block: ..." for what a model shows under its first checkpoint.
QString visibleTree(const QAbstractItemModel& m) {
  if (m.rowCount() == 0) return QString();
  const QModelIndex top = m.index(0, 0);
  QStringList blocks;
  for (int b = 0; b < m.rowCount(top); ++b) {
    const QModelIndex block = m.index(b, 0, top);
    QStringList tensors;
    for (int t = 0; t < m.rowCount(block); ++t) tensors << m.index(t, 0, block).data().toString();
    blocks << block.data().toString() + QStringLiteral(": ") + tensors.join(QStringLiteral(", "));
  }
  return blocks.join(QStringLiteral("; "));
}

// Twelve numbered layers, so that names sort differently as text and as numbers.
std::shared_ptr<const Checkpoint> twelveLayers() {
  CheckpointBuilder b("twelve.safetensors", "safetensors");
  for (int i = 0; i < 12; ++i) {
    const Shape shape{2, i + 1};
    std::vector<std::byte> bytes(static_cast<std::size_t>(2 * (i + 1)) * 4);
    b.add_tensor(Tensor("model.layers." + std::to_string(i) + ".mlp.up_proj.weight", DType::F32, shape,
                        detail::make_owned_source(std::move(bytes), DType::F32, "twelve.safetensors")));
  }
  return std::make_shared<const Checkpoint>(std::move(b).build());
}

}  // namespace

class TestCheckpointTreeModel : public QObject {
  Q_OBJECT

private slots:
  void formatsCounts_data();
  void formatsCounts();
  void emptyModel();
  void passesModelTesterWhileChanging();
  void showsExpectedTree_data();
  void showsExpectedTree();
  void tensorKinds_data();
  void tensorKinds();
  void nodesAndRows();
  void persistentIndexSurvivesClosingAnother();
  void filter_data();
  void filter();
  void filterHidesCheckpointWithoutMatch();
  void sortByParameters();
  void sortByNameIsNatural();
  void naturalCompare_data();
  void naturalCompare();
};

void TestCheckpointTreeModel::formatsCounts_data() {
  QTest::addColumn<qulonglong>("n");
  QTest::addColumn<QString>("text");
  QTest::newRow("0") << 0ull << "0";
  QTest::newRow("999") << 999ull << "999";
  QTest::newRow("1000") << 1000ull << "1,000";
  QTest::newRow("1704") << 1704ull << "1,704";
  QTest::newRow("6738415616") << 6738415616ull << "6,738,415,616";  // LLaMA-2 7B
  QTest::newRow("max") << 18446744073709551615ull << "18,446,744,073,709,551,615";
}

void TestCheckpointTreeModel::formatsCounts() {
  QFETCH(qulonglong, n);
  QFETCH(QString, text);
  QCOMPARE(ui::formatCount(n), text);
}

void TestCheckpointTreeModel::emptyModel() {
  CheckpointTreeModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QCOMPARE(model.rowCount(), 0);
  QCOMPARE(model.columnCount(), int(CheckpointTreeModel::ColumnCount));
  QCOMPARE(model.headerData(CheckpointTreeModel::ParametersColumn, Qt::Horizontal).toString(), QStringLiteral("Parameters"));
  QVERIFY(!model.checkpointAt(0));
  QCOMPARE(model.checkpointRowOf({}), -1);
  QCOMPARE(model.addCheckpoint(nullptr), -1);
}

void TestCheckpointTreeModel::passesModelTesterWhileChanging() {
  CheckpointTreeModel model;
  CheckpointFilterProxy proxy;
  proxy.setSourceModel(&model);
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QCOMPARE(model.addCheckpoint(test::load("gui/tiny_llama.safetensors")), 0);
  QCOMPARE(model.addCheckpoint(test::load("gui/tiny_mlp.safetensors")), 1);
  proxy.sort(CheckpointTreeModel::ParametersColumn, Qt::DescendingOrder);
  proxy.setNameFilter(QStringLiteral("weight"));
  QCOMPARE(model.addCheckpoint(twelveLayers()), 2);
  model.removeCheckpoint(0);
  proxy.setNameFilter(QString());
  model.removeCheckpoint(5);  // no such row: nothing happens
  QCOMPARE(model.checkpointCount(), 2);
  model.removeCheckpoint(1);
  model.removeCheckpoint(0);
  QCOMPARE(model.rowCount(), 0);
  QCOMPARE(proxy.rowCount(), 0);
}

void TestCheckpointTreeModel::showsExpectedTree_data() {
  QTest::addColumn<QString>("fixture");
  QTest::addColumn<QStringList>("blocks");
  QTest::addColumn<QList<qulonglong>>("parameters");
  // Hand-checked (see test_block_chart): hierarchy order puts embeddings first, the final norm and
  // the head last, although the file lists the F32 norms first.
  QTest::newRow("tiny_llama") << "tiny_llama"
                              << QStringList{"model.embed_tokens", "model.layers.0", "model.layers.1", "model.norm", "lm_head"}
                              << QList<qulonglong>{256, 592, 592, 8, 256};
  // layers.0: 16x8 + 16 = 144; layers.1: 4x16 + 4 = 68.
  QTest::newRow("tiny_mlp") << "tiny_mlp" << QStringList{"layers.0", "layers.1"} << QList<qulonglong>{144, 68};
}

void TestCheckpointTreeModel::showsExpectedTree() {
  QFETCH(QString, fixture);
  QFETCH(QStringList, blocks);
  QFETCH(QList<qulonglong>, parameters);
  CheckpointTreeModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
  model.addCheckpoint(test::load("gui/" + fixture.toStdString() + ".safetensors"));
  const QJsonObject want = test::expected("gui/" + fixture.toStdString() + ".expected.json");

  const QModelIndex top = model.index(0, 0);
  QCOMPARE(top.data().toString(), fixture + QStringLiteral(".safetensors"));
  QCOMPARE(cell(model, top, CheckpointTreeModel::KindColumn).toString(), QStringLiteral("safetensors"));
  QCOMPARE(cell(model, top, CheckpointTreeModel::ParametersColumn, CheckpointTreeModel::SortRole).toULongLong(),
           static_cast<qulonglong>(want["parameters"].toInteger()));
  QVERIFY(top.data(Qt::ToolTipRole).toString().endsWith(QStringLiteral("gui/") + fixture + QStringLiteral(".safetensors")));

  QCOMPARE(model.rowCount(top), blocks.size());
  const QJsonArray jblocks = want["blocks"].toArray();
  QCOMPARE(jblocks.size(), blocks.size());
  for (int b = 0; b < blocks.size(); ++b) {
    const QModelIndex block = model.index(b, 0, top);
    const QJsonObject jb = jblocks[b].toObject();
    QCOMPARE(block.data().toString(), blocks[b]);
    QCOMPARE(jb["name"].toString(), blocks[b]);
    QCOMPARE(cell(model, block, CheckpointTreeModel::ParametersColumn, CheckpointTreeModel::SortRole).toULongLong(),
             parameters[b]);
    QCOMPARE(cell(model, block, CheckpointTreeModel::ParametersColumn).toString(), ui::formatCount(parameters[b]));

    const QJsonArray jtensors = jb["tensors"].toArray();
    QCOMPARE(model.rowCount(block), jtensors.size());
    qulonglong sum = 0;
    for (int t = 0; t < jtensors.size(); ++t) {
      const QModelIndex tensor = model.index(t, 0, block);
      const QJsonObject jt = jtensors[t].toObject();
      const QString full = jt["name"].toString();
      QCOMPARE(tensor.data(CheckpointTreeModel::FilterRole).toString(), full);
      QCOMPARE(tensor.data(Qt::ToolTipRole).toString(), full);
      // Shown below the block, without the block's name.
      QCOMPARE(tensor.data().toString(), full.mid(blocks[b].size() + 1));
      QCOMPARE(cell(model, tensor, CheckpointTreeModel::ShapeColumn).toString(), shapeText(jt["shape"].toArray()));
      QCOMPARE(cell(model, tensor, CheckpointTreeModel::DTypeColumn).toString(), jt["dtype"].toString());
      qulonglong numel = 1;
      for (const auto& d : jt["shape"].toArray()) numel *= static_cast<qulonglong>(d.toInteger());
      QCOMPARE(cell(model, tensor, CheckpointTreeModel::ParametersColumn, CheckpointTreeModel::SortRole).toULongLong(), numel);
      QCOMPARE(cell(model, tensor, CheckpointTreeModel::ShapeColumn, CheckpointTreeModel::SortRole).toULongLong(), numel);
      QCOMPARE(model.rowCount(tensor), 0);
      sum += numel;
    }
    QCOMPARE(sum, parameters[b]);
  }
}

void TestCheckpointTreeModel::tensorKinds_data() {
  QTest::addColumn<QString>("tensor");
  QTest::addColumn<QString>("kind");
  QTest::newRow("embedding") << "model.embed_tokens.weight" << "embedding";
  QTest::newRow("q") << "model.layers.0.self_attn.q_proj.weight" << "attn.q";
  QTest::newRow("k") << "model.layers.1.self_attn.k_proj.weight" << "attn.k";
  QTest::newRow("v") << "model.layers.0.self_attn.v_proj.weight" << "attn.v";
  QTest::newRow("o") << "model.layers.0.self_attn.o_proj.weight" << "attn.o";
  QTest::newRow("gate") << "model.layers.0.mlp.gate_proj.weight" << "mlp.gate";
  QTest::newRow("up") << "model.layers.1.mlp.up_proj.weight" << "mlp.up";
  QTest::newRow("down") << "model.layers.0.mlp.down_proj.weight" << "mlp.down";
  QTest::newRow("layer norm") << "model.layers.0.input_layernorm.weight" << "norm";
  QTest::newRow("final norm") << "model.norm.weight" << "norm";
  QTest::newRow("head") << "lm_head.weight" << "head";
}

void TestCheckpointTreeModel::tensorKinds() {
  QFETCH(QString, tensor);
  QFETCH(QString, kind);
  CheckpointTreeModel model;
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  const QModelIndexList hits = model.match(model.index(0, 0, model.index(0, 0)), CheckpointTreeModel::FilterRole, tensor,
                                           1, Qt::MatchExactly | Qt::MatchRecursive | Qt::MatchWrap);
  // match() searches siblings and their children: start from the first block.
  QCOMPARE(hits.size(), 1);
  QCOMPARE(model.node(hits[0]), Node::Tensor);
  QCOMPARE(cell(model, hits[0], CheckpointTreeModel::KindColumn).toString(), kind);
  QCOMPARE(QString::fromStdString(model.tensorAt(hits[0])->name()), tensor);
}

void TestCheckpointTreeModel::nodesAndRows() {
  CheckpointTreeModel model;
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  model.addCheckpoint(test::load("gui/tiny_mlp.safetensors"));
  const QModelIndex mlp = model.checkpointIndex(1);
  const QModelIndex block = model.index(1, 0, mlp);   // layers.1
  const QModelIndex tensor = model.index(0, 2, block);  // a cell in another column
  QCOMPARE(model.node(mlp), Node::Checkpoint);
  QCOMPARE(model.node(block), Node::Block);
  QCOMPARE(model.node(tensor), Node::Tensor);
  QCOMPARE(model.node({}), Node::None);
  QCOMPARE(model.checkpointRowOf(mlp), 1);
  QCOMPARE(model.checkpointRowOf(block), 1);
  QCOMPARE(model.checkpointRowOf(tensor), 1);
  QCOMPARE(model.parent(tensor), model.index(1, 0, mlp));
  QCOMPARE(model.parent(block), mlp);
  QVERIFY(!model.tensorAt(block));
  // File order (the writer sorted by name): bias before weight.
  QCOMPARE(QString::fromStdString(model.tensorAt(tensor)->name()), QStringLiteral("layers.1.bias"));
  QCOMPARE(model.checkpointAt(1)->path().filename().string(), std::string("tiny_mlp.safetensors"));
}

void TestCheckpointTreeModel::persistentIndexSurvivesClosingAnother() {
  CheckpointTreeModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  model.addCheckpoint(test::load("gui/tiny_mlp.safetensors"));
  const QPersistentModelIndex tensor(model.index(1, 0, model.index(0, 0, model.checkpointIndex(1))));
  QCOMPARE(tensor.data(CheckpointTreeModel::FilterRole).toString(), QStringLiteral("layers.0.weight"));
  const QPersistentModelIndex gone(model.index(0, 0, model.checkpointIndex(0)));
  model.removeCheckpoint(0);
  QVERIFY(!gone.isValid());
  QVERIFY(tensor.isValid());
  QCOMPARE(tensor.data(CheckpointTreeModel::FilterRole).toString(), QStringLiteral("layers.0.weight"));
  QCOMPARE(model.checkpointRowOf(tensor), 0);
  QCOMPARE(tensor.parent().parent(), model.checkpointIndex(0));
}

void TestCheckpointTreeModel::filter_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QString>("visible");
  QTest::newRow("tensor name") << "q_proj"
                               << "model.layers.0: self_attn.q_proj.weight; model.layers.1: self_attn.q_proj.weight";
  QTest::newRow("case-insensitive") << "LM_HEAD" << "lm_head: weight";
  QTest::newRow("wildcard") << "layers.1.*norm"
                            << "model.layers.1: input_layernorm.weight, post_attention_layernorm.weight";
  QTest::newRow("single-char wildcard") << "layers.?.self_attn.k"
                                        << "model.layers.0: self_attn.k_proj.weight; model.layers.1: self_attn.k_proj.weight";
  QTest::newRow("dot is literal") << "layers.0.mlp.down" << "model.layers.0: mlp.down_proj.weight";
  QTest::newRow("block name keeps its tensors") << "model.norm" << "model.norm: weight";
  QTest::newRow("spaces trimmed") << "  embed_tokens " << "model.embed_tokens: weight";
}

void TestCheckpointTreeModel::filter() {
  QFETCH(QString, text);
  QFETCH(QString, visible);
  CheckpointTreeModel model;
  CheckpointFilterProxy proxy;
  proxy.setSourceModel(&model);
  QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  proxy.setNameFilter(text);
  QCOMPARE(visibleTree(proxy), visible);
  proxy.setNameFilter(QString());
  QCOMPARE(proxy.rowCount(proxy.index(0, 0)), 5);
  QCOMPARE(proxy.rowCount(proxy.index(1, 0, proxy.index(0, 0))), 9);
}

void TestCheckpointTreeModel::filterHidesCheckpointWithoutMatch() {
  CheckpointTreeModel model;
  CheckpointFilterProxy proxy;
  proxy.setSourceModel(&model);
  QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  model.addCheckpoint(test::load("gui/tiny_mlp.safetensors"));
  proxy.setNameFilter(QStringLiteral("bias"));  // only the MLP has biases
  QCOMPARE(proxy.rowCount(), 1);
  QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("tiny_mlp.safetensors"));
  QCOMPARE(visibleTree(proxy), QStringLiteral("layers.0: bias; layers.1: bias"));
  proxy.setNameFilter(QStringLiteral("no such tensor"));
  QCOMPARE(proxy.rowCount(), 0);
}

void TestCheckpointTreeModel::sortByParameters() {
  CheckpointTreeModel model;
  CheckpointFilterProxy proxy;
  proxy.setSourceModel(&model);
  model.addCheckpoint(test::load("gui/tiny_llama.safetensors"));
  proxy.sort(CheckpointTreeModel::ParametersColumn, Qt::DescendingOrder);
  const QModelIndex top = proxy.index(0, 0);
  QList<qulonglong> got;
  for (int b = 0; b < proxy.rowCount(top); ++b)
    got << proxy.index(b, CheckpointTreeModel::ParametersColumn, top).data(CheckpointTreeModel::SortRole).toULongLong();
  QCOMPARE(got, (QList<qulonglong>{592, 592, 256, 256, 8}));
  // Tensors inside a block sort too: the MLP matrices (128) before the norms (8).
  const QModelIndex layer = proxy.index(0, 0, top);
  QCOMPARE(proxy.index(0, CheckpointTreeModel::ParametersColumn, layer).data(CheckpointTreeModel::SortRole).toULongLong(), 128ull);
  QCOMPARE(proxy.index(8, CheckpointTreeModel::ParametersColumn, layer).data(CheckpointTreeModel::SortRole).toULongLong(), 8ull);
  proxy.sort(-1);  // back to hierarchy order
  QCOMPARE(proxy.index(0, 0, top).data().toString(), QStringLiteral("model.embed_tokens"));
}

void TestCheckpointTreeModel::sortByNameIsNatural() {
  CheckpointTreeModel model;
  CheckpointFilterProxy proxy;
  proxy.setSourceModel(&model);
  model.addCheckpoint(twelveLayers());
  const QModelIndex top = proxy.index(0, 0);
  auto names = [&] {
    QStringList out;
    for (int b = 0; b < proxy.rowCount(top); ++b) out << proxy.index(b, 0, top).data().toString().mid(13);  // "model.layers."
    return out.join(QLatin1Char(' '));
  };
  QCOMPARE(names(), QStringLiteral("0 1 2 3 4 5 6 7 8 9 10 11"));  // hierarchy order
  proxy.sort(CheckpointTreeModel::NameColumn, Qt::DescendingOrder);
  QCOMPARE(names(), QStringLiteral("11 10 9 8 7 6 5 4 3 2 1 0"));
  proxy.sort(CheckpointTreeModel::NameColumn, Qt::AscendingOrder);
  QCOMPARE(names(), QStringLiteral("0 1 2 3 4 5 6 7 8 9 10 11"));
  // Block i holds 2 x (i+1) parameters.
  QCOMPARE(proxy.index(11, CheckpointTreeModel::ParametersColumn, top).data(CheckpointTreeModel::SortRole).toULongLong(), 24ull);
}

void TestCheckpointTreeModel::naturalCompare_data() {
  QTest::addColumn<QString>("a");
  QTest::addColumn<QString>("b");
  QTest::addColumn<int>("sign");
  QTest::newRow("numbers") << "layers.2" << "layers.10" << -1;
  QTest::newRow("numbers reversed") << "layers.10" << "layers.9" << 1;
  QTest::newRow("equal") << "layers.10.mlp" << "layers.10.mlp" << 0;
  QTest::newRow("case") << "Dense_1" << "dense_1" << 0;
  QTest::newRow("leading zeros") << "blk.007" << "blk.7" << 0;
  QTest::newRow("zeros then longer") << "blk.0010" << "blk.9" << 1;
  QTest::newRow("prefix") << "layers" << "layers.0" << -1;
  QTest::newRow("text") << "attn" << "mlp" << -1;
  QTest::newRow("digit vs letter") << "a1" << "ab" << -1;
  QTest::newRow("huge numbers") << "x123456789012345678901234567890" << "x123456789012345678901234567891" << -1;
}

void TestCheckpointTreeModel::naturalCompare() {
  QFETCH(QString, a);
  QFETCH(QString, b);
  QFETCH(int, sign);
  const int c = ui::naturalCompare(a, b);
  QCOMPARE((c > 0) - (c < 0), sign);
  const int r = ui::naturalCompare(b, a);
  QCOMPARE((r > 0) - (r < 0), -sign);
}

PARAMSCOPE_GUI_TEST_MAIN(TestCheckpointTreeModel)
#include "test_checkpoint_tree_model.moc"
