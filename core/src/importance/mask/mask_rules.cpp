#include "importance/mask/mask_rules.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>

#include "importance/mask/mask_kernels.h"
#include "importance/mask/topk_select.h"

namespace paramscope::mask {
namespace {

/// Elements a parallel work item reads at once (about one chunk).
constexpr std::int64_t kPiece = kDefaultChunk;

struct Piece {
  std::int64_t begin, end;  // elements read (whole rows or slabs for Rows and NM)
};

/// What a piece keeps for sure, and how many ties of a budget cut it met (marked 2 in the bytes
/// until the budget decides them).
struct PieceCount {
  std::int64_t kept = 0, ties = 0;
  std::int64_t ties_kept = 0;  ///< set once the budget has decided
};

struct Scratch {
  BufferPool::Lease values;
  std::vector<std::uint32_t> keys;
  std::vector<std::uint8_t> marks, lut;
};

/// The marks of a cut for every code of a table: 1 above the cut's key, 2 at it, 0 below (NaN).
void build_lut(const std::vector<float>& table, std::uint32_t key, std::vector<std::uint8_t>& lut) {
  lut.resize(table.size());
  for (std::size_t c = 0; c < table.size(); ++c) {
    const std::uint32_t k = score_key(table[c]);
    lut[c] = static_cast<std::uint8_t>((k > key) | ((k == key && k != 0) << 1));
  }
}

/// Keeps the n largest of m keys (ties: lower index first; key 0 is NaN, never kept).
void keep_n_of_m(const std::uint32_t* keys, int n, int m, bool* keep) {
  if (m <= 16) {
    for (int c = 0; c < m; ++c) {
      int rank = 0;
      for (int d = 0; d < m; ++d) rank += keys[d] > keys[c] || (keys[d] == keys[c] && d < c);
      keep[c] = rank < n && keys[c] != 0;
    }
    return;
  }
  int order[256];
  std::iota(order, order + m, 0);
  const int top = std::min(n, m);
  std::partial_sort(order, order + top, order + m,
                    [keys](int a, int b) { return keys[a] > keys[b] || (keys[a] == keys[b] && a < b); });
  std::fill(keep, keep + m, false);
  for (int c = 0; c < top; ++c) keep[order[c]] = keys[order[c]] != 0;
}

class RuleApplier {
 public:
  RuleApplier(const ScoreField& field, std::size_t i, const TensorRule& rule, std::int64_t begin, std::int64_t end,
              std::byte* out)
      : field_(field), i_(i), rule_(rule), begin_(begin), end_(end), out_(out), coded_(field.coded(i)) {
    if (coded_ && rule_.kind == RuleKind::Cut) build_lut(*coded_->table, rule_.cut.key, cut_lut_);
  }

  std::vector<Piece> pieces() const {
    std::vector<Piece> p;
    const std::int64_t numel = field_.tensors()[i_].numel;
    std::int64_t unit = 1;
    if (rule_.kind == RuleKind::Rows) unit = rule_.row_len;
    if (rule_.kind == RuleKind::NM) unit = rule_.stride * rule_.m;
    if (rule_.kind == RuleKind::RowCuts) {
      // Pieces never cross a row: each row has its own cut.
      for (std::int64_t b = begin_; b < end_;) {
        const std::int64_t row_end = (b / rule_.row_len + 1) * rule_.row_len;
        const std::int64_t e = std::min({end_, row_end, b + kPiece});
        p.push_back({b, e});
        b = e;
      }
      return p;
    }
    // Whole units covering [begin, end), about kPiece elements per piece.
    const std::int64_t first = begin_ / unit * unit;
    const std::int64_t last = std::min(numel, (end_ + unit - 1) / unit * unit);
    const std::int64_t step = std::max<std::int64_t>(1, kPiece / unit) * unit;
    for (std::int64_t b = first; b < last; b += step) p.push_back({b, std::min(last, b + step)});
    return p;
  }

  /// Kept elements of the piece that lie in [begin, end).
  PieceCount run(const Piece& piece, Scratch& s) const {
    switch (rule_.kind) {
      case RuleKind::Cut:
        return run_cut(piece, rule_.cut, 0, s);  // cut positions are tensor positions
      case RuleKind::RowCuts: {
        const std::int64_t row = piece.begin / rule_.row_len;
        return run_cut(piece, rule_.row_cuts[static_cast<std::size_t>(row)], row * rule_.row_len, s);
      }
      case RuleKind::Rows:
        return {run_rows(piece, s), 0};
      case RuleKind::NM:
        return {run_nm(piece, s), 0};
    }
    return {};
  }

  /// The budget that decides the piece's ties (null if its cut has none).
  TieBudget* budget(const Piece& piece) const {
    if (rule_.kind == RuleKind::Cut) return rule_.cut.ties.get();
    if (rule_.kind == RuleKind::RowCuts)
      return rule_.row_cuts[static_cast<std::size_t>(piece.begin / rule_.row_len)].ties.get();
    return nullptr;
  }

  /// Turns the piece's tie marks (2) into the first `keep` ones and zeros after.
  void settle_ties(const Piece& piece, std::int64_t ties, std::int64_t keep) const {
    if (!out_ || ties == 0) return;
    auto* o = reinterpret_cast<std::uint8_t*>(out_ + (piece.begin - begin_));
    const auto n = static_cast<std::size_t>(piece.end - piece.begin);
    if (keep == ties || keep == 0) {
      kernels::replace_byte(o, n, 2, static_cast<std::uint8_t>(keep != 0));
      return;
    }
    for (std::size_t j = 0; j < n; ++j)
      if (o[j] == 2) o[j] = keep-- > 0;
  }

 private:
  bool inside(std::int64_t pos) const { return pos >= begin_ && pos < end_; }
  std::int64_t emit(std::int64_t pos, bool keep) const {
    if (out_) out_[pos - begin_] = static_cast<std::byte>(keep);
    return keep;
  }

  // Reads scores and lets their input pages go: every element is read once per pass.
  std::span<float> read(std::int64_t first, std::int64_t count, Scratch& s) const {
    const std::span<float> v = s.values.span(static_cast<std::size_t>(count));
    field_.scores(i_, first, v);
    field_.release(i_, first, count);
    return v;
  }

  // origin: the tensor position where the cut's positions start (a row start for RowCuts).
  // Pieces of Cut rules lie inside [begin, end). Ties are kept up to a position, so the piece
  // splits into a ">= key" head and a "> key" tail: two plain loops the compiler vectorises. A
  // cut with a budget marks its ties instead, for apply_rule to settle in stream order.
  PieceCount run_cut(const Piece& piece, const Cut& cut, std::int64_t origin, Scratch& s) const {
    auto* o = out_ ? reinterpret_cast<std::uint8_t*>(out_ + (piece.begin - begin_)) : nullptr;
    if (coded_) return run_cut_coded(piece, cut, origin, o, s);
    const auto v = read(piece.begin, piece.end - piece.begin, s);
    if (cut.ties) {
      // key >= 1: a budget cut's key is a k-th largest number, never NaN's.
      const kernels::AboveAndTies c = kernels::mark_ties(v.data(), v.size(), cut.key, o);
      return {c.above, c.ties};
    }
    const auto n = static_cast<std::int64_t>(v.size());
    std::int64_t head = 0;  // elements [0, head) keep ties
    if (cut.last_tie == std::numeric_limits<std::int64_t>::max())
      head = n;
    else if (cut.last_tie >= piece.begin - origin)
      head = std::min(n, cut.last_tie - (piece.begin - origin) + 1);
    const auto h = static_cast<std::size_t>(head);
    // Ties: key >= cut.key; others: key > cut.key. NaN's key 0 stays below both bounds.
    const std::uint64_t tie_bound = std::max<std::uint32_t>(cut.key, 1), bound = std::uint64_t{cut.key} + 1;
    return {mark(v.first(h), tie_bound, o) + mark(v.subspan(h), bound, o ? o + h : nullptr), 0};
  }

  // The same from 16-bit codes through a table of marks: no score is computed.
  PieceCount run_cut_coded(const Piece& piece, const Cut& cut, std::int64_t origin, std::uint8_t* o,
                           Scratch& s) const {
    const auto n = static_cast<std::size_t>(piece.end - piece.begin);
    const std::vector<std::uint8_t>* lut = &cut_lut_;
    if (rule_.kind != RuleKind::Cut) {
      build_lut(*coded_->table, cut.key, s.lut);
      lut = &s.lut;
    }
    std::uint8_t* marks = o;
    if (!marks) {
      s.marks.resize(n);
      marks = s.marks.data();
    }
    const kernels::AboveAndTies m =
        kernels::mark_codes(coded_->codes.data() + piece.begin, n, lut->data(), marks);
    field_.release(i_, piece.begin, piece.end - piece.begin);
    if (cut.ties) return {m.above, m.ties};
    std::size_t head = 0;  // elements [0, head) keep ties
    if (cut.last_tie == std::numeric_limits<std::int64_t>::max())
      head = n;
    else if (cut.last_tie >= piece.begin - origin)
      head = std::min(n, static_cast<std::size_t>(cut.last_tie - (piece.begin - origin) + 1));
    const std::size_t head_ties = kernels::count_byte(marks, head, 2);
    if (o) {
      kernels::replace_byte(o, head, 2, 1);
      kernels::replace_byte(o + head, n - head, 2, 0);
    }
    return {static_cast<std::int64_t>(m.above + head_ties), 0};
  }

  /// Marks (if out) and counts the elements whose key is at least `bound` (up to 2^32).
  static std::int64_t mark(std::span<const float> v, std::uint64_t bound, std::uint8_t* out) {
    if (bound > 0xFFFFFFFFu) {
      if (out) std::fill(out, out + v.size(), std::uint8_t{0});
      return 0;
    }
    // Pieces are far below 2^32 elements.
    return kernels::mark_at_least(v.data(), v.size(), static_cast<std::uint32_t>(bound), out);
  }

  std::int64_t run_rows(const Piece& piece, Scratch& s) const {
    const auto v = read(piece.begin, piece.end - piece.begin, s);
    const std::int64_t len = rule_.row_len;
    std::int64_t kept = 0;
    for (std::int64_t r0 = 0; r0 < static_cast<std::int64_t>(v.size()); r0 += len) {
      const auto row = v.subspan(static_cast<std::size_t>(r0), static_cast<std::size_t>(len));
      const Cut cut = select_topk_memory(row, rule_.row_k, s.keys).cut;
      for (std::int64_t j = 0; j < len; ++j) {
        const std::int64_t pos = piece.begin + r0 + j;
        if (inside(pos)) kept += emit(pos, cut.keeps(score_key(row[static_cast<std::size_t>(j)]), j));
      }
    }
    return kept;
  }

  // Groups of an N:M slab (m * stride contiguous elements: dim-1 indices c of one group at
  // c * stride + s). A slab larger than a piece is read column block by column block.
  std::int64_t run_nm(const Piece& piece, Scratch& s) const {
    const int m = rule_.m;
    const std::int64_t stride = rule_.stride, slab = stride * m;
    std::int64_t kept = 0;
    std::uint32_t keys[256];
    bool keep[256];
    auto groups = [&](std::span<const float> v, std::int64_t width, std::int64_t slab_begin, std::int64_t s0) {
      for (std::int64_t col = 0; col < width; ++col) {
        for (int c = 0; c < m; ++c) keys[c] = score_key(v[static_cast<std::size_t>(c * width + col)]);
        keep_n_of_m(keys, rule_.n, m, keep);
        for (int c = 0; c < m; ++c) {
          const std::int64_t pos = slab_begin + c * stride + s0 + col;
          if (inside(pos)) kept += emit(pos, keep[c]);
        }
      }
    };
    if (slab <= kPiece) {
      const auto v = read(piece.begin, piece.end - piece.begin, s);
      for (std::int64_t b = 0; b < static_cast<std::int64_t>(v.size()); b += slab)
        groups(v.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(slab)), stride, piece.begin + b, 0);
      return kept;
    }
    const std::int64_t width = std::max<std::int64_t>(1, kPiece / m);
    for (std::int64_t slab_begin = piece.begin; slab_begin < piece.end; slab_begin += slab)
      for (std::int64_t s0 = 0; s0 < stride; s0 += width) {
        const std::int64_t w = std::min(width, stride - s0);
        const std::span<float> v = s.values.span(static_cast<std::size_t>(w * m));
        for (int c = 0; c < m; ++c) {
          const std::int64_t at = slab_begin + c * stride + s0;
          field_.scores(i_, at, v.subspan(static_cast<std::size_t>(c * w), static_cast<std::size_t>(w)));
          field_.release(i_, at, w);
        }
        groups(v, w, slab_begin, s0);
      }
    return kept;
  }

  const ScoreField& field_;
  std::size_t i_;
  const TensorRule& rule_;
  std::int64_t begin_, end_;
  std::byte* out_;
  std::optional<ScoreField::Coded> coded_;
  std::vector<std::uint8_t> cut_lut_;  ///< Cut rules of coded tensors
};

}  // namespace

std::int64_t apply_rule(const ScoreField& field, std::size_t i, const TensorRule& rule, std::int64_t begin,
                        std::int64_t end, std::byte* out, ThreadPool& pool, ProgressTracker* tracker) {
  if (begin >= end) return 0;
  const RuleApplier applier(field, i, rule, begin, end, out);
  const std::vector<Piece> pieces = applier.pieces();
  std::vector<PieceCount> counts(pieces.size());
  BufferPool buffers;
  pool.parallel_for(pieces.size(), 1, [&](std::size_t b, std::size_t e) {
    Scratch scratch{buffers.get(), {}, {}, {}};
    for (std::size_t p = b; p < e; ++p) {
      counts[p] = applier.run(pieces[p], scratch);
      if (tracker) {
        const std::int64_t done = std::min(end, pieces[p].end) - std::max(begin, pieces[p].begin);
        tracker->advance(static_cast<std::uint64_t>(done));
      }
    }
  });
  // Pieces release only the pages wholly inside them; the pages they share go now, so resident
  // memory stays flat over a whole model.
  field.release(i, begin, end - begin);

  // Ties of budget cuts, in stream order: callers apply a rule to a tensor's ranges in order and
  // to the tensors of a unit in order, so the first ties met are the ones kept.
  std::int64_t kept = 0;
  bool settle = false;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    kept += counts[p].kept;
    if (counts[p].ties == 0) continue;
    TieBudget* budget = applier.budget(pieces[p]);
    const std::int64_t keep = std::min(counts[p].ties, budget->left);
    budget->left -= keep;
    kept += keep;
    settle = settle || out;
    counts[p].ties_kept = keep;
  }
  if (settle)
    pool.parallel_for(pieces.size(), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t p = b; p < e; ++p) applier.settle_ties(pieces[p], counts[p].ties, counts[p].ties_kept);
    });
  return kept;
}

void reset_tie_budgets(std::vector<TensorRule>& rules) {
  auto reset = [](const Cut& c) {
    if (c.ties) c.ties->left = c.ties->needed;
  };
  for (const TensorRule& r : rules) {
    reset(r.cut);
    for (const Cut& c : r.row_cuts) reset(c);
  }
}

}  // namespace paramscope::mask
