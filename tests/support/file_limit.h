#pragma once

#include <sys/resource.h>

namespace certguard::testing {

// Raises the soft limit on open files to the hard one, for runs that hold thousands of
// connections (one socket each here, and one each in the broker, which inherits the limit).
// Returns the new soft limit (0 if it cannot be read).
inline rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace certguard::testing
