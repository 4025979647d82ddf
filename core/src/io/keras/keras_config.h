// Keras's JSON configs summarised for Checkpoint::metadata(): the model's class, name and layers,
// the optimizer and loss it was compiled with. Never the whole JSON (a config can be megabytes).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace paramscope::io::keras {

using Metadata = std::vector<std::pair<std::string, std::string>>;

/// model_config (Keras 2 .h5) or config.json (.keras): model_class, model_name, layer_count,
/// layer_classes; for .keras also optimizer and loss from compile_config. Text that is not valid
/// JSON adds one "<key>: not valid JSON" entry instead of failing: the weights are still usable.
void summarise_model_config(std::string_view text, std::string_view key, Metadata& out);

/// training_config (Keras 2 .h5): optimizer and loss.
void summarise_training_config(std::string_view text, Metadata& out);

/// metadata.json of a .keras archive: keras_version, date_saved.
void summarise_archive_metadata(std::string_view text, Metadata& out);

}  // namespace paramscope::io::keras
