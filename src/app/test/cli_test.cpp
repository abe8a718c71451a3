#include <gtest/gtest.h>
#include "app/cli.hpp"
TEST(Cli, Placeholder) { SUCCEED(); }
