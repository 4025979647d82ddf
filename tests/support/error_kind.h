// Error kinds by name, as the malformed corpora's expected.json files spell them.
#pragma once

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

}  // namespace paramscope::test
