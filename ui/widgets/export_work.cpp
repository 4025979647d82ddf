#include "export_work.h"

#include <QDir>

#include "criterion_inputs.h"
#include "number_format.h"
#include "paramscope/error.h"
#include "paramscope/map_export.h"

namespace paramscope::ui {

void checkMaskRequest(const MaskExportRequest& r) {
  const Criterion& c = CriterionRegistry::builtin().get(r.criterion.criterion.toStdString());
  if (!c.info().elementwise)
    throw usage_error("criterion " + c.info().name + " gives one value per matrix: a mask needs element scores");
  (void)MaskSpec::parse(r.top.toStdString(), r.scope.toStdString());
  if (r.output.isEmpty()) throw usage_error("no output file for the mask");
}

Job::Work maskExportWork(CheckpointPtr checkpoint, MaskExportRequest request,
                         std::function<void(std::shared_ptr<const MaskExportResult>)> deliver) {
  return [checkpoint = std::move(checkpoint), request = std::move(request),
          deliver = std::move(deliver)](const JobControl& control) -> std::function<void()> {
    checkMaskRequest(request);
    const auto opened = openCriterion(request.criterion);
    const MaskSpec spec = MaskSpec::parse(request.top.toStdString(), request.scope.toStdString());
    const auto tensors = select_tensors(*checkpoint, {});
    const auto field = make_score_field(*checkpoint, tensors, *opened->criterion, opened->inputs);
    auto result = std::make_shared<MaskExportResult>();
    result->output = request.output;
    result->spec = QString::fromStdString(spec.describe() + " by " + opened->criterion->info().name);
    result->summary = write_mask(request.output.toStdString(), *field, spec, request.u8 ? DType::U8 : DType::BOOL,
                                 ThreadPool::global(), control,
                                 mask_metadata(*checkpoint, *opened->criterion, opened->inputs));
    return [deliver, result] { deliver(result); };
  };
}

QString densityReport(const MaskExportResult& r, bool perTensor) {
  const MaskSummary& s = r.summary;
  const double all = s.total ? 100.0 * static_cast<double>(s.kept) / static_cast<double>(s.total) : 0.0;
  QString text = QStringLiteral("%1: %2 of %3 kept (%4 %)")
                     .arg(r.spec, formatCount(static_cast<std::uint64_t>(s.kept)),
                          formatCount(static_cast<std::uint64_t>(s.total)))
                     .arg(all, 0, 'f', 2);
  if (s.threshold) text += QStringLiteral(", threshold %1").arg(static_cast<double>(*s.threshold), 0, 'g', 6);
  if (!perTensor) return text;
  for (const auto& t : s.tensors)
    text += QStringLiteral("\n%1  %2 %").arg(QString::fromStdString(t.name)).arg(100 * t.density(), 0, 'f', 2) +
            (t.kept_whole ? QStringLiteral("  (kept whole: not N:M-groupable)") : QString());
  return text;
}

void checkMapsRequest(const MapsExportRequest& r) {
  const Criterion& c = CriterionRegistry::builtin().get(r.criterion.criterion.toStdString());
  if (r.output.isEmpty() && r.summary.isEmpty()) throw usage_error("nothing to write: choose a map or a summary file");
  const Granularity g = r.element ? Granularity::Element : parse_granularity(r.criterion.granularity.toStdString());
  if (!c.info().elementwise && g != Granularity::Tensor && g != Granularity::Block)
    throw usage_error("criterion " + c.info().name + " gives one value per matrix: export at tensor or block granularity");
  (void)parse_reduction(r.criterion.reduction.toStdString());
}

Job::Work mapsExportWork(CheckpointPtr checkpoint, MapsExportRequest request, std::function<void(QString)> deliver) {
  return [checkpoint = std::move(checkpoint), request = std::move(request),
          deliver = std::move(deliver)](const JobControl& control) -> std::function<void()> {
    checkMapsRequest(request);
    const auto opened = openCriterion(request.criterion);
    MapExportSpec spec;
    spec.granularity = request.element ? Granularity::Element : parse_granularity(request.criterion.granularity.toStdString());
    spec.reduction = parse_reduction(request.criterion.reduction.toStdString());
    spec.heads = HeadConfig::from_checkpoint(*checkpoint);
    spec.output = request.output.toStdString();
    spec.summary = request.summary.toStdString();
    export_importance_maps(*checkpoint, select_tensors(*checkpoint, {}), *opened->criterion, opened->inputs, spec,
                           ThreadPool::global(), control);
    QStringList written;
    for (const QString& f : {request.output, request.summary})
      if (!f.isEmpty()) written << QDir::toNativeSeparators(f);
    const QString message = QObject::tr("Wrote %1").arg(written.join(QStringLiteral(", ")));
    return [deliver, message] { deliver(message); };
  };
}

}  // namespace paramscope::ui
