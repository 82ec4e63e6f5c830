// SPDX-License-Identifier: GPL-2.0
/*
 * debug-exit: end the QEMU guest with a verdict the host can read.
 *
 * usage: debug-exit pass|fail|VALUE
 *
 * Writes one byte to QEMU's isa-debug-exit device (iobase 0xf4). QEMU then
 * exits with status (VALUE << 1) | 1: "pass" writes 0x10 (host sees 33),
 * "fail" writes 0x11 (host sees 35). A normal QEMU exit (0) or a QEMU error
 * (1) can therefore never be taken for a pass.
 *
 * The port is reached with ioperm()+outb() when the kernel has
 * CONFIG_X86_IOPL_IOPERM, else through /dev/port (CONFIG_DEVPORT).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>

#define DEBUG_EXIT_PORT 0xf4
#define VERDICT_PASS 0x10
#define VERDICT_FAIL 0x11

int main(int argc, char **argv)
{
	unsigned char val;
	int fd, ioperm_errno;

	if (argc != 2) {
		fprintf(stderr, "usage: %s pass|fail|VALUE\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "pass"))
		val = VERDICT_PASS;
	else if (!strcmp(argv[1], "fail"))
		val = VERDICT_FAIL;
	else
		val = (unsigned char)strtoul(argv[1], NULL, 0);

	if (ioperm(DEBUG_EXIT_PORT, 1, 1) == 0) {
		outb(val, DEBUG_EXIT_PORT);
	} else {
		ioperm_errno = errno;
		fd = open("/dev/port", O_WRONLY);
		if (fd < 0) {
			fprintf(stderr, "debug-exit: ioperm: %s; /dev/port: %s\n",
				strerror(ioperm_errno), strerror(errno));
			return 1;
		}
		if (pwrite(fd, &val, 1, DEBUG_EXIT_PORT) != 1) {
			perror("debug-exit: write /dev/port");
			return 1;
		}
		close(fd);
	}
	/* QEMU exits on the write; reaching this line means no such device. */
	fprintf(stderr, "debug-exit: no isa-debug-exit device at 0x%x?\n",
		DEBUG_EXIT_PORT);
	return 1;
}
