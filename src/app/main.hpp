#pragma once

namespace passt::app {

// Runs passt or pasta, chosen from argv[0]; returns the process exit status.
int main(int argc, char** argv);

}  // namespace passt::app
