// Block and module-kind recognition on names from real model families.
#include <QTest>

#include "paramscope/hierarchy.h"

using namespace paramscope;

class TestHierarchy : public QObject {
  Q_OBJECT
 private slots:
  void classify_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("rank");
    QTest::addColumn<QString>("block");
    QTest::addColumn<int>("index");
    QTest::addColumn<QString>("kind");
    // Hugging Face LLaMA / Mistral / Qwen2
    QTest::newRow("llama q") << "model.layers.12.self_attn.q_proj.weight" << 2 << "model.layers.12" << 12 << "attn.q";
    QTest::newRow("llama k") << "model.layers.0.self_attn.k_proj.weight" << 2 << "model.layers.0" << 0 << "attn.k";
    QTest::newRow("qwen v bias") << "model.layers.3.self_attn.v_proj.bias" << 1 << "model.layers.3" << 3 << "attn.v";
    QTest::newRow("llama o") << "model.layers.1.self_attn.o_proj.weight" << 2 << "model.layers.1" << 1 << "attn.o";
    QTest::newRow("llama gate") << "model.layers.1.mlp.gate_proj.weight" << 2 << "model.layers.1" << 1 << "mlp.gate";
    QTest::newRow("llama up") << "model.layers.1.mlp.up_proj.weight" << 2 << "model.layers.1" << 1 << "mlp.up";
    QTest::newRow("llama down") << "model.layers.1.mlp.down_proj.weight" << 2 << "model.layers.1" << 1 << "mlp.down";
    QTest::newRow("llama norm") << "model.layers.1.input_layernorm.weight" << 1 << "model.layers.1" << 1 << "norm";
    QTest::newRow("llama embed") << "model.embed_tokens.weight" << 2 << "model.embed_tokens" << -1 << "embedding";
    QTest::newRow("llama final norm") << "model.norm.weight" << 1 << "model.norm" << -1 << "norm";
    QTest::newRow("lm head") << "lm_head.weight" << 2 << "lm_head" << -1 << "head";
    QTest::newRow("mixtral expert") << "model.layers.2.block_sparse_moe.experts.7.w1.weight" << 2 << "model.layers.2"
                                    << 2 << "mlp.gate";
    // GPT-2
    QTest::newRow("gpt2 c_attn") << "transformer.h.5.attn.c_attn.weight" << 2 << "transformer.h.5" << 5 << "attn.qkv";
    QTest::newRow("gpt2 attn c_proj") << "transformer.h.5.attn.c_proj.weight" << 2 << "transformer.h.5" << 5
                                      << "attn.o";
    QTest::newRow("gpt2 mlp c_fc") << "transformer.h.5.mlp.c_fc.weight" << 2 << "transformer.h.5" << 5 << "mlp.up";
    QTest::newRow("gpt2 mlp c_proj") << "transformer.h.5.mlp.c_proj.weight" << 2 << "transformer.h.5" << 5
                                     << "mlp.down";
    QTest::newRow("gpt2 wte") << "transformer.wte.weight" << 2 << "transformer.wte" << -1 << "embedding";
    QTest::newRow("gpt2 ln_f") << "transformer.ln_f.bias" << 1 << "transformer.ln_f" << -1 << "norm";
    // BERT
    QTest::newRow("bert query") << "bert.encoder.layer.3.attention.self.query.weight" << 2 << "bert.encoder.layer.3"
                                << 3 << "attn.q";
    QTest::newRow("bert attn out") << "bert.encoder.layer.3.attention.output.dense.weight" << 2
                                   << "bert.encoder.layer.3" << 3 << "attn.o";
    QTest::newRow("bert intermediate") << "bert.encoder.layer.3.intermediate.dense.weight" << 2
                                       << "bert.encoder.layer.3" << 3 << "mlp.up";
    QTest::newRow("bert output") << "bert.encoder.layer.3.output.dense.weight" << 2 << "bert.encoder.layer.3" << 3
                                 << "mlp.down";
    QTest::newRow("bert output LN") << "bert.encoder.layer.3.output.LayerNorm.weight" << 1 << "bert.encoder.layer.3"
                                    << 3 << "norm";
    QTest::newRow("bert word emb") << "bert.embeddings.word_embeddings.weight" << 2 << "bert.embeddings.word_embeddings"
                                   << -1 << "embedding";
    // ViT (HF and timm)
    QTest::newRow("vit key") << "vit.encoder.layer.0.attention.attention.key.weight" << 2 << "vit.encoder.layer.0" << 0
                             << "attn.k";
    QTest::newRow("vit patch") << "vit.embeddings.patch_embeddings.projection.weight" << 4
                               << "vit.embeddings.patch_embeddings.projection" << -1 << "conv";
    QTest::newRow("timm qkv") << "blocks.4.attn.qkv.weight" << 2 << "blocks.4" << 4 << "attn.qkv";
    QTest::newRow("timm proj") << "blocks.4.attn.proj.weight" << 2 << "blocks.4" << 4 << "attn.o";
    QTest::newRow("timm fc1") << "blocks.4.mlp.fc1.weight" << 2 << "blocks.4" << 4 << "mlp.up";
    QTest::newRow("timm fc2") << "blocks.4.mlp.fc2.weight" << 2 << "blocks.4" << 4 << "mlp.down";
    QTest::newRow("timm cls") << "cls_token" << 3 << "" << -1 << "embedding";
    // torchvision ResNet
    QTest::newRow("resnet conv") << "layer2.1.conv1.weight" << 4 << "layer2.1" << 1 << "conv";
    QTest::newRow("resnet bn stats") << "layer2.1.bn1.running_mean" << 1 << "layer2.1" << 1 << "norm";
    QTest::newRow("resnet downsample conv") << "layer3.0.downsample.0.weight" << 4 << "layer3.0" << 0 << "conv";
    QTest::newRow("resnet stem") << "conv1.weight" << 4 << "conv1" << -1 << "conv";
    QTest::newRow("resnet fc") << "fc.weight" << 2 << "fc" << -1 << "head";
    // nn.Sequential children
    QTest::newRow("sequential conv") << "features.3.weight" << 4 << "features.3" << 3 << "conv";
    QTest::newRow("sequential linear") << "classifier.1.weight" << 2 << "classifier.1" << 1 << "linear";
    // llama.cpp GGUF
    QTest::newRow("gguf q") << "blk.7.attn_q.weight" << 2 << "blk.7" << 7 << "attn.q";
    QTest::newRow("gguf ffn_gate") << "blk.7.ffn_gate.weight" << 2 << "blk.7" << 7 << "mlp.gate";
    QTest::newRow("gguf ffn_down") << "blk.7.ffn_down.weight" << 2 << "blk.7" << 7 << "mlp.down";
    QTest::newRow("gguf attn_output") << "blk.7.attn_output.weight" << 2 << "blk.7" << 7 << "attn.o";
    QTest::newRow("gguf token_embd") << "token_embd.weight" << 2 << "token_embd" << -1 << "embedding";
    QTest::newRow("gguf output") << "output.weight" << 2 << "output" << -1 << "head";
    // Keras
    QTest::newRow("keras dense") << "dense_1/kernel:0" << 2 << "dense_1" << -1 << "linear";
    QTest::newRow("keras conv") << "conv2d/kernel:0" << 4 << "conv2d" << -1 << "conv";
    QTest::newRow("keras bn") << "batch_normalization/moving_mean:0" << 1 << "batch_normalization" << -1 << "norm";
    QTest::newRow("keras nested") << "sequential/dense/bias:0" << 1 << "sequential/dense" << -1 << "linear";
    QTest::newRow("keras3 embedding") << "embedding/embeddings" << 2 << "embedding" << -1 << "embedding";
  }
  void classify() {
    QFETCH(QString, name);
    QFETCH(int, rank);
    QFETCH(QString, block);
    QFETCH(int, index);
    QFETCH(QString, kind);
    const Shape shape(static_cast<std::size_t>(rank), 2);
    const TensorPlace p = classify_tensor(name.toStdString(), shape);
    QCOMPARE(QString::fromStdString(p.block), block);
    QCOMPARE(p.block_index, index);
    QCOMPARE(QString::fromLatin1(module_kind_name(p.kind).data()), kind);
  }

  void orders_blocks_like_the_model() {
    // safetensors files list tensors sorted by name: "layers.10" before "layers.2", lm_head first.
    const std::vector<std::string> names = {"lm_head.weight",
                                            "model.embed_tokens.weight",
                                            "model.layers.0.mlp.up_proj.weight",
                                            "model.layers.10.mlp.up_proj.weight",
                                            "model.layers.2.mlp.up_proj.weight",
                                            "model.norm.weight"};
    const std::vector<Shape> shapes = {{8, 4}, {8, 4}, {4, 4}, {4, 4}, {4, 4}, {4}};
    const Hierarchy h(names, shapes);
    QStringList order;
    for (const auto& b : h.blocks()) order << QString::fromStdString(b.name);
    QCOMPARE(order, (QStringList{"model.embed_tokens", "model.layers.0", "model.layers.2", "model.layers.10",
                                 "model.norm", "lm_head"}));
    QCOMPARE(h.blocks().front().parameters, std::uint64_t{32});
    QCOMPARE(h.blocks()[3].tensors, (std::vector<std::size_t>{3}));
  }

  void resnet_order() {
    const std::vector<std::string> names = {"bn1.weight", "conv1.weight", "fc.weight", "layer1.0.conv1.weight",
                                            "layer2.0.conv1.weight"};
    const std::vector<Shape> shapes = {{4}, {4, 3, 3, 3}, {10, 4}, {4, 4, 3, 3}, {4, 4, 3, 3}};
    const Hierarchy h(names, shapes);
    QStringList order;
    for (const auto& b : h.blocks()) order << QString::fromStdString(b.name);
    QCOMPARE(order, (QStringList{"bn1", "conv1", "layer1.0", "layer2.0", "fc"}));
  }
};

QTEST_GUILESS_MAIN(TestHierarchy)
#include "test_hierarchy.moc"
