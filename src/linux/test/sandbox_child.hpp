// Forked children for the isolation, seccomp and allocation-guard tests:
// those steps are irreversible, so each runs in a child process that the
// test then judges by its exit status and what it reported.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

namespace passt::os::test {

struct ChildOutcome {
  int status = 0;
  std::string text;  // what the child said (say()), for failure messages
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool ok() const { return exited(0); }
  bool killed_by(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  std::string describe() const {
    char b[64];
    if (WIFEXITED(status))
      std::snprintf(b, sizeof(b), "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
      std::snprintf(b, sizeof(b), "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
      std::snprintf(b, sizeof(b), "status %#x", status);
    return std::string(b) + (text.empty() ? "" : ": " + text);
  }
};

// The child's channel back to the test: formats on the stack and write()s,
// so it works under the seccomp filter and the allocation guard.
class Say {
 public:
  explicit Say(int fd) : fd_(fd) {}
  __attribute__((format(printf, 2, 3))) void operator()(const char* fmt, ...) const {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    std::size_t len = static_cast<std::size_t>(n) < sizeof(buf) - 1 ? static_cast<std::size_t>(n)
                                                                      : sizeof(buf) - 2;
    buf[len++] = '\n';
    (void)!::write(fd_, buf, len);
  }

 private:
  int fd_;
};

// Runs `fn(say)` in a forked child, which _exit()s with its return value.
// The child is killed by SIGALRM after `timeout_s` (never hangs the test).
// With quiet_stderr the child's stderr is /dev/null (expected aborts).
template <class F>
ChildOutcome in_child(F fn, bool quiet_stderr = false, unsigned timeout_s = 20) {
  ChildOutcome out;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    out.status = -1;
    out.text = "pipe";
    return out;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    ::alarm(timeout_s);
    if (quiet_stderr) {
      int dn = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (dn >= 0) ::dup2(dn, 2);
    }
    Say say(p[1]);
    int rc = fn(say);
    ::_exit(rc);
  }
  ::close(p[1]);
  char buf[512];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  while (::waitpid(pid, &out.status, 0) < 0 && errno == EINTR) {
  }
  if (!out.text.empty() && out.text.back() == '\n') out.text.pop_back();
  return out;
}

// (st_dev, st_ino) of a path relative to a directory fd; 0 on failure.
inline unsigned long long inode_at(int dirfd, const char* name) {
  struct stat st {};
  if (::fstatat(dirfd, name, &st, 0) < 0) return 0;
  return static_cast<unsigned long long>(st.st_ino) ^
         (static_cast<unsigned long long>(st.st_dev) << 32);
}

}  // namespace passt::os::test
