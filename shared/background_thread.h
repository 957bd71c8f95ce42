#pragma once

namespace certguard {

// What a thread that works beside a broker's (the policy watcher, the snapshot reaper) does to
// stay out of its way.

// Names the calling thread (at most 15 bytes are kept), so that an operator's `top -H` or `ps -L`
// and a benchmark reading /proc/PID/task/*/comm can tell certguard's threads from the broker's.
void NameThisThread(const char* name);

// Lowers the calling thread's priority by `steps` nice steps (at most to 19). On Linux a nice
// value belongs to one thread, not to the whole process.
void LowerThisThreadsPriority(int steps);

// Hands memory freed by this process back to the system. glibc keeps freed memory in its arenas:
// without this a broker that loaded a 100,000-device policy (150 MB compiled) kept over 900 MB of
// RSS for good (bench/memory_bench). It walks every arena: call it off a broker's thread.
void ReturnFreedMemoryToTheSystem();

}  // namespace certguard
