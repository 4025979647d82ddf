// The command line of the paramscope GUI and the scripted runs it allows:
//   paramscope [PATH...] [--compute CRITERION] [--tensor NAME] [--view TAB] [--screenshot FILE]
//              [--quit-after-load] [--size WxH] [--merge [--merge-page PAGE]]
//   paramscope --attribute MODEL.onnx INPUT... [--methods rise,deeplift,ig,gxi] [--sample N] ...
#pragma once

#include <QObject>
#include <QSize>
#include <QStringList>

namespace paramscope::ui {

class MainWindow;

struct StartupOptions {
  QStringList paths;       ///< checkpoints to open
  QString screenshot;      ///< PNG written once every path has loaded or failed; "" for none
  bool quitAfterLoad = false;
  QSize size;              ///< window size; invalid: the saved or default one
  QString compute;         ///< criterion to compute on the last checkpoint once loaded; "" for none
  QString tensor;          ///< tensor of the last checkpoint to select once loaded (and computed)
  int view = -1;           ///< FigureTabs::Tab to show; -1: leave as it is
  bool merge = false;      ///< the Merge tab on the paths: the first the base, the others fine-tunes
  int mergePage = -1;      ///< MergeDashboard::Page to show; -1: the one the run ends on
  QString attribute;       ///< ONNX model for the Attributions tab (paths are then its inputs); "" for none
  QStringList methods;     ///< with attribute: the methods (rise, deeplift, deeplift-shap, ig, gxi, smoothgrad)
  int sample = 0;          ///< with attribute: the sample explained
  QString error;           ///< what is wrong with the command line; "" if nothing
  bool helpShown = false;  ///< --help or --version printed its text: exit 0
};

/// Names the application (settings live under ParamScope/paramscope) and its version.
void setApplicationInfo();

/// Parses arguments (arguments[0] is the program). Prints --help / --version itself.
StartupOptions parseStartupOptions(const QStringList& arguments);

/// Opens the paths in window, then (when every load has finished, and the --compute job if
/// any) selects the --tensor and waits for its heatmap, shows the --view, saves the screenshot
/// and reports finished(exit code): 0 all loaded, 1 a load, the job or the tensor failed, 2 the
/// screenshot was not saved. Without paths, reopens the last session. With --attribute, opens the
/// Attributions tab on the model and the paths as its inputs, computes the methods for the top
/// class and waits for their maps and curves instead.
class StartupRun : public QObject {
  Q_OBJECT

public:
  StartupRun(MainWindow* window, StartupOptions options, QObject* parent = nullptr);
  void start();

signals:
  void finished(int exitCode);

private:
  void onDone();
  void startMerge();
  void startAttribution();
  void finishMerge();
  void showRequested();
  void complete();

  MainWindow* window_;
  StartupOptions options_;
  int waiting_ = 0;
  bool failed_ = false;
  bool completed_ = false;
};

}  // namespace paramscope::ui
