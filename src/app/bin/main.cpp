// Entry point for both `passt` and `pasta`.
#include "app/main.hpp"

int main(int argc, char** argv) { return passt::app::main(argc, argv); }
