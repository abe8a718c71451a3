#include "app/main.hpp"

#include <cstdio>
#include <cstring>
#include <libgen.h>

namespace passt::app {

int main(int argc, char** argv) {
  (void)argc;
  const char* name = argc > 0 ? argv[0] : "passt";
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s", name);
  const char* base = basename(buf);
  if (std::strstr(base, "pasta") == nullptr && std::strstr(base, "passt") == nullptr) {
    std::fprintf(stderr, "Cannot determine mode from program name '%s'\n", base);
    return 1;
  }
  std::fprintf(stderr, "%s: not implemented yet\n", base);
  return 1;
}

}  // namespace passt::app
