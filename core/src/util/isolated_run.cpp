#include "util/isolated_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>


namespace paramscope {

std::optional<IsolatedFailure> run_isolated(const std::function<void()>& fn, std::chrono::seconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;  // cannot isolate: let the caller go ahead
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::close(fds[0]);
    // What a crashing library (or a sanitizer reporting the crash) prints is not for the user:
    // the parent turns the outcome into one message.
    if (const int devnull = ::open("/dev/null", O_WRONLY); devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    int code = 0;
    std::string msg;
    try {
      fn();
    } catch (const Error& e) {
      msg = static_cast<char>('0' + static_cast<int>(e.kind())) + std::string(e.what());
    } catch (const std::exception& e) {
      msg = static_cast<char>('0' + static_cast<int>(Error::Kind::BadInput)) + std::string(e.what());
    }
    if (!msg.empty()) {
      [[maybe_unused]] const auto n = ::write(fds[1], msg.data(), msg.size());
      code = 1;
    }
    ::_exit(code);  // no atexit handlers, no destructors of the parent's objects
  }
  ::close(fds[1]);
  std::string message;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child has exited (or closed the pipe)
    message.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return IsolatedFailure{Error::Kind::BadInput, "did not finish within " + std::to_string(timeout.count()) + " s", true};
  if (WIFSIGNALED(status))
    return IsolatedFailure{Error::Kind::BadInput, std::string("crashed (") + ::strsignal(WTERMSIG(status)) + ")", true};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
  if (message.size() < 2) return IsolatedFailure{Error::Kind::BadInput, "exited with status " + std::to_string(WEXITSTATUS(status)), true};
  return IsolatedFailure{static_cast<Error::Kind>(message[0] - '0'), message.substr(1), false};
}

}  // namespace paramscope
