// Error kinds by name, as the malformed corpora's expected.json files spell them.
#pragma once

#include <string>

#include "paramscope/error.h"

namespace paramscope::test {

inline const char* kind_name(Error::Kind k) {
  switch (k) {
    case Error::Kind::BadInput:
      return "BadInput";
    case Error::Kind::Unsupported:
      return "Unsupported";
    case Error::Kind::Io:
      return "Io";
    case Error::Kind::Usage:
      return "Usage";
    case Error::Kind::Cancelled:
      return "Cancelled";
  }
  return "?";
}

/// The kind of Error f throws, with its message when asked; a kind that no Error has when f
/// throws none, so that a QCOMPARE against the expected kind fails.
template <class F>
Error::Kind error_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  return static_cast<Error::Kind>(-1);
}

}  // namespace paramscope::test
