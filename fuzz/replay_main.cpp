// Driver for fuzz targets in non-libFuzzer builds: runs LLVMFuzzerTestOneInput
// over every file named on the command line (directories are walked one
// level deep), so corpora are replayed under any compiler and sanitizer.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz/fuzz.hpp"

namespace {

bool run_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
    return false;
  }
  std::vector<std::uint8_t> buf;
  std::uint8_t chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
  std::fclose(f);
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;  // libFuzzer flags: ignored
    struct stat st {};
    if (stat(arg.c_str(), &st) != 0) {
      std::fprintf(stderr, "replay: %s: not found\n", arg.c_str());
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(arg.c_str());
      if (d == nullptr) return 1;
      std::vector<std::string> names;
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        names.emplace_back(arg + "/" + e->d_name);
      }
      closedir(d);
      for (const auto& p : names) {
        if (!run_file(p)) return 1;
        count++;
      }
    } else {
      if (!run_file(arg)) return 1;
      count++;
    }
  }
  // An empty input is always a valid case too.
  LLVMFuzzerTestOneInput(nullptr, 0);
  std::printf("replayed %zu inputs\n", count);
  return 0;
}
