// SPDX-License-Identifier: GPL-2.0
/* The port has no assembly, so it needs no offsets; kbuild wants the file. */
#define COMPILE_OFFSETS
#include <linux/kbuild.h>

int main(void)
{
	return 0;
}
