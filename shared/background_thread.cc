#include "shared/background_thread.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace certguard {

void NameThisThread(const char* name) {
  char truncated[16] = {};
  for (size_t i = 0; i + 1 < sizeof truncated && name[i] != '\0'; ++i) truncated[i] = name[i];
  ::pthread_setname_np(::pthread_self(), truncated);
}

void LowerThisThreadsPriority(int steps) {
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(current + steps, 19));
}

void ReturnFreedMemoryToTheSystem() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace certguard
