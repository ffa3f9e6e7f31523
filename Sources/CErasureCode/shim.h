// liberasurecode. Wrapped only by GranaryErasure.
// erasurecode.h pulls in a config header that defines _GNU_SOURCE; include the system headers
// that depend on it first, or a clean build fails on fd_set (see PLATFORM.md).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/select.h>
#include <syslog.h>
#include <malloc.h>  // mallopt: keep liberasurecode's per-call fragment allocations on the heap
#include <erasurecode.h>
#include <erasurecode_version.h>
