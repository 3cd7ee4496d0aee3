// The one place the libfuse API version is chosen: every adapter file
// includes this instead of <fuse_lowlevel.h> so they all see the same ABI
// (3.14).
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>
