#pragma once

// Clang thread-safety annotations (no-ops on GCC), as in LevelDB's
// port/thread_annotations.h. They document which mutex guards a member.
#if defined(__clang__)
#define TA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TA_THREAD_ANNOTATION(x)
#endif

#define GUARDED_BY(x) TA_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) TA_THREAD_ANNOTATION(pt_guarded_by(x))
#define EXCLUSIVE_LOCKS_REQUIRED(...) TA_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
