// Text for an HTML page: the report's and the explanation gallery's.
#pragma once

#include <string>

namespace scenecam {

// s with &, <, > and " written as entities, for element text and quoted attribute values.
inline std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace scenecam
