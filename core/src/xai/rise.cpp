// RISE (Petsiuk, Das, Saenko, BMVC 2018): saliency[b] = sum_i score(x_b * M_i) M_i / (N p), the
// masks made batch by batch (rise_masks.cpp) or read from a file, batches run in parallel groups
// and summed in mask order, so that the result does not depend on the batch size or the threads.
#include <algorithm>
#include <cstring>
#include <string>

#include "paramscope/attribution.h"
#include "paramscope/error.h"
#include "xai/padded_runs.h"
#include "xai/rise_masks.h"
#include "xai/target_score.h"

namespace paramscope::xai {

namespace {

// Where each element of one sample finds its mask value: identity blocks when the spatial axes
// are the trailing ones (repeat > 0), else an index per element.
struct MaskIndex {
  std::int64_t repeat = 0;
  std::vector<std::int64_t> index;
};

MaskIndex mask_index(const std::vector<std::int64_t>& shape, const std::vector<int>& axes) {
  const int rank = static_cast<int>(shape.size());
  std::int64_t per = 1, msize = 1;
  for (int d = 1; d < rank; ++d) per *= shape[static_cast<std::size_t>(d)];
  for (const int a : axes) msize *= shape[static_cast<std::size_t>(a)];
  bool trailing = true;
  for (std::size_t k = 0; k < axes.size(); ++k)
    trailing = trailing && axes[k] == rank - static_cast<int>(axes.size()) + static_cast<int>(k);
  MaskIndex m;
  if (trailing) {
    m.repeat = msize == 0 ? 0 : per / msize;
    return m;
  }
  // mask strides per sample axis (0 for the axes the mask is shared over)
  std::vector<std::int64_t> mstride(static_cast<std::size_t>(rank), 0);
  std::int64_t s = 1;
  for (auto it = axes.rbegin(); it != axes.rend(); ++it) {
    mstride[static_cast<std::size_t>(*it)] = s;
    s *= shape[static_cast<std::size_t>(*it)];
  }
  m.index.resize(static_cast<std::size_t>(per));
  std::vector<std::int64_t> coord(static_cast<std::size_t>(rank), 0);
  std::int64_t cur = 0;
  for (std::int64_t k = 0; k < per; ++k) {
    m.index[static_cast<std::size_t>(k)] = cur;
    for (int d = rank - 1; d >= 1; --d) {
      const auto du = static_cast<std::size_t>(d);
      cur += mstride[du];
      if (++coord[du] < shape[du]) break;
      cur -= mstride[du] * coord[du];
      coord[du] = 0;
    }
  }
  return m;
}

// The masks of a file as [N, *sizes] F32: [N, *sizes] or (as the RISE code saves them)
// [N, 1, *sizes]. throws Error(Usage) otherwise.
Array file_masks(const Array& file, const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& x_shape) {
  std::vector<std::int64_t> want{file.rank() ? file.dim(0) : 0};
  want.insert(want.end(), sizes.begin(), sizes.end());
  std::vector<std::int64_t> with_channel = want;
  with_channel.insert(with_channel.begin() + 1, 1);
  std::string dims;
  for (const std::int64_t s : sizes) dims += (dims.empty() ? "" : ", ") + std::to_string(s);
  if (file.rank() == 0 || file.dim(0) < 1 || (file.shape() != want && file.shape() != with_channel))
    throw usage_error("a RISE mask file of shape " + shape_string(file.shape()) + " does not fit the input " +
                      shape_string(x_shape) + ": it must be [N, " + dims + "] or [N, 1, " + dims +
                      "] (N >= 1 masks over the input's spatial sizes)");
  switch (file.type()) {
    case DType::F32:
    case DType::F64:
    case DType::F16:
    case DType::BF16:
    case DType::I8:
    case DType::U8:
    case DType::I16:
    case DType::U16:
    case DType::I32:
    case DType::U32:
    case DType::I64:
    case DType::U64:
    case DType::BOOL:
      break;
    default:
      throw usage_error("a RISE mask file of type " + std::string(dtype_name(file.type())) +
                        ": masks must be a float, integer or bool array");
  }
  return file.cast(DType::F32).reshaped(want);
}

struct BatchResult {
  std::int64_t first = 0, count = 0;
  Array masks;                // [count, mask size]
  std::vector<double> score;  // [batch sample][count]
};

}  // namespace

Attribution rise(const engine::Model& model, const Array& x, const Target& target, const RiseOptions& options,
                 const RiseProgress& progress, const JobControl& control) {
  const ResolvedTarget t = resolve_target(model, target);
  const std::vector<int> axes = spatial_axes(x.shape(), options.axes);
  std::vector<std::int64_t> sizes;
  for (const int a : axes) sizes.push_back(x.dim(static_cast<std::size_t>(a)));
  if (options.batch < 1) throw usage_error("the RISE batch must be at least 1, not " + std::to_string(options.batch));
  const rise_detail::MaskGeometry geo = rise_detail::geometry(sizes, options.cells, options.p);
  const std::int64_t msize = geo.mask_size();

  Array from_file;
  std::int64_t total = options.masks;
  if (options.mask_file) {
    from_file = file_masks(*options.mask_file, sizes, x.shape());
    total = from_file.dim(0);
  } else if (total < 1) {
    throw usage_error("RISE needs at least 1 mask, not " + std::to_string(total));
  }

  const std::int64_t fixed = declared_batch(model, t);  // chunks of exactly that many rows, if any

  const JobControl inner{control.cancel, {}};  // the engine's node counts are not this job's progress
  const Array xf = x.cast(DType::F32);
  const std::int64_t samples = xf.dim(0);
  if (samples < 1) throw usage_error("RISE of an empty batch " + shape_string(x.shape()));
  const Array out0 = run_scores_padded(model, t, xf, fixed, inner);
  Attribution result;
  result.classes = choose_classes(out0, samples, t);
  result.score = scores(out0, result.classes, t);

  const std::int64_t per = xf.size() / samples;
  const MaskIndex mi = mask_index(xf.shape(), axes);
  std::vector<std::int64_t> sample_shape = xf.shape();

  // one batch of masks: made (or copied from the file), applied to every sample, scored
  auto work = [&](BatchResult& r) {
    r.masks = Array(DType::F32, {r.count, msize});
    float* m = r.masks.data<float>();
    if (options.mask_file) {
      std::memcpy(m, from_file.data<float>() + r.first * msize, static_cast<std::size_t>(r.count * msize) * 4);
    } else {
      for (std::int64_t i = 0; i < r.count; ++i) {
        const rise_detail::MaskDraw d = rise_detail::draw(geo, options.p, options.seed, r.first + i);
        rise_detail::upsample_crop(geo, d.grid.data(), d.shift, m + i * msize);
      }
    }
    r.score.assign(static_cast<std::size_t>(samples * r.count), 0.0);
    std::vector<std::int64_t> shape = sample_shape;
    shape[0] = r.count;
    for (std::int64_t b = 0; b < samples; ++b) {
      if (inner.cancel) inner.cancel->throw_if_cancelled();
      Array xs(DType::F32, shape);
      const float* src = xf.data<float>() + b * per;
      float* dst = xs.data<float>();
      for (std::int64_t i = 0; i < r.count; ++i) {
        const float* mask = m + i * msize;
        float* row = dst + i * per;
        if (mi.repeat > 0) {
          for (std::int64_t k = 0; k < mi.repeat; ++k)
            for (std::int64_t q = 0; q < msize; ++q) row[k * msize + q] = src[k * msize + q] * mask[q];
        } else {
          for (std::int64_t k = 0; k < per; ++k) row[k] = src[k] * mask[mi.index[static_cast<std::size_t>(k)]];
        }
      }
      const Array out = run_scores_padded(model, t, xs, fixed, inner);
      const std::vector<std::int64_t> cls{result.classes[static_cast<std::size_t>(b)]};
      const std::vector<double> s = scores(out, cls, t);
      std::copy(s.begin(), s.end(), r.score.begin() + b * r.count);
    }
  };

  std::vector<double> sal(static_cast<std::size_t>(samples * msize), 0.0);
  std::vector<std::int64_t> map_shape{samples};
  map_shape.insert(map_shape.end(), sizes.begin(), sizes.end());
  auto current_map = [&](std::int64_t done) {
    Array map(DType::F32, map_shape);
    const double norm = 1.0 / (static_cast<double>(done) * options.p);
    float* mp = map.data<float>();
    for (std::size_t k = 0; k < sal.size(); ++k) mp[k] = static_cast<float>(sal[k] * norm);
    return map;
  };

  ThreadPool& pool = ThreadPool::global();
  const std::int64_t batches = (total + options.batch - 1) / options.batch;
  const std::int64_t group = std::max(1, pool.threads());
  std::vector<BatchResult> results(static_cast<std::size_t>(std::min(group, batches)));
  ProgressTracker tracker(control, static_cast<std::uint64_t>(total));
  std::int64_t done = 0;
  bool stop = false;
  for (std::int64_t g0 = 0; g0 < batches && !stop; g0 += group) {
    tracker.advance(0);
    const std::int64_t n = std::min(group, batches - g0);
    for (std::int64_t j = 0; j < n; ++j) {
      BatchResult& r = results[static_cast<std::size_t>(j)];
      r.first = (g0 + j) * options.batch;
      r.count = std::min(options.batch, total - r.first);
    }
    pool.parallel_for(static_cast<std::size_t>(n), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t j = b; j < e; ++j) work(results[j]);
    });
    for (std::int64_t j = 0; j < n && !stop; ++j) {
      const BatchResult& r = results[static_cast<std::size_t>(j)];
      const float* m = r.masks.data<float>();
      for (std::int64_t b = 0; b < samples; ++b) {
        double* acc = sal.data() + b * msize;
        for (std::int64_t i = 0; i < r.count; ++i) {
          const double s = r.score[static_cast<std::size_t>(b * r.count + i)];
          const float* mask = m + i * msize;
          for (std::int64_t q = 0; q < msize; ++q) acc[q] += s * static_cast<double>(mask[q]);
        }
      }
      done += r.count;
      tracker.advance(static_cast<std::uint64_t>(r.count));
      if (progress) {
        Attribution partial;
        partial.map = current_map(done);
        partial.classes = result.classes;
        partial.score = result.score;
        stop = !progress(partial, done);
      }
    }
  }
  tracker.finish();
  result.map = current_map(done);
  return result;
}

}  // namespace paramscope::xai
