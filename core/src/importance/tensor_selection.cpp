#include <string>

#include "paramscope/error.h"
#include "paramscope/importance.h"

namespace paramscope {

// Iterative, with backtracking to the last '*'.
bool glob_match(std::string_view pat, std::string_view s) noexcept {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

namespace {

bool any_match(const std::vector<std::string>& pats, const std::string& name) {
  for (const auto& p : pats)
    if (glob_match(p, name)) return true;
  return false;
}

}  // namespace

std::vector<std::size_t> select_tensors(const Checkpoint& c, const TensorSelection& sel) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < c.tensors().size(); ++i) {
    const Tensor& t = c.tensors()[i];
    if (!dtype_info(t.dtype()).is_float || t.numel() == 0) continue;
    if (!sel.exclude.empty() && any_match(sel.exclude, t.name())) continue;
    if (!sel.include.empty()) {
      if (any_match(sel.include, t.name())) out.push_back(i);
      continue;
    }
    if (sel.all_tensors || (t.shape().size() >= 2 && c.hierarchy().place(i).kind != ModuleKind::Embedding))
      out.push_back(i);
  }
  if (out.empty())
    throw usage_error(c.path().string() + ": no tensor to score" +
                      (sel.include.empty()
                           ? std::string(" (the default set is floating-point matrices and convolutions "
                                         "that are not embeddings; use --tensors or --all)")
                           : " matches the --tensors patterns"));
  return out;
}

}  // namespace paramscope
