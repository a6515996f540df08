/*
 * microbench: per-call costs of common system calls, run inside a container.
 *
 * Usage: microbench [-t SECONDS] [-d DIR] [-f FILE]
 *   -t  time spent on each metric (default 0.3), split over 3 timed rounds
 *   -d  writable folder for scratch files (default /tmp)
 *   -f  existing file to stat and open (default /etc/kbox-test.txt)
 * Prints one line per metric: "name value unit"; us = microseconds per call,
 * MB/s = 10^6 bytes per second. Each figure is the median of 3 rounds, each
 * round sized from a calibration run so that the whole takes about -t seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 3
#define CHUNK (64 * 1024)
#define COPY_SIZE (8L * 1024 * 1024)

static const char *stat_file = "/etc/kbox-test.txt";
static char pread_path[4096], copy_src[4096], copy_dst[4096];
static int pread_fd = -1;
static char buf[CHUNK];

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("microbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A benchmark does n units of work; a unit is one call, or one byte for throughputs. */
typedef void (*bench_fn)(long n);

static void b_getppid(long n)
{
	for (long i = 0; i < n; i++)
		if (getppid() < 0)
			die("getppid");
}

static void b_stat(long n)
{
	struct stat st;
	for (long i = 0; i < n; i++)
		if (stat(stat_file, &st) < 0)
			die("stat %s", stat_file);
}

static void b_open_close(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(stat_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open %s", stat_file);
		close(fd);
	}
}

static void b_pread(long n)
{
	for (long i = 0; i < n; i++)
		if (pread(pread_fd, buf, 4096, (i % 16) * 4096) != 4096)
			die("pread %s", pread_path);
}

static void b_fork_exec(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			errno = 0;
			die("/bin/true failed (status %#x)", status);
		}
	}
}

static void write_all(int fd, const char *p, size_t len, const char *what)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write %s", what);
		}
		p += w;
		len -= w;
	}
}

/* Bytes through a pipe from a child process, in CHUNK writes. */
static void b_pipe(long bytes)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		for (long left = bytes; left > 0; left -= CHUNK)
			write_all(p[1], buf, left < CHUNK ? left : CHUNK, "pipe");
		_exit(0);
	}
	close(p[1]);
	long got = 0;
	for (;;) {
		ssize_t r = read(p[0], buf, CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read pipe");
		if (r == 0)
			break;
		got += r;
	}
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (got != bytes) {
		errno = 0;
		die("pipe moved %ld of %ld bytes", got, bytes);
	}
}

/* Bytes copied from copy_src (COPY_SIZE long, wrapping around) to a fresh copy_dst. */
static void b_copy(long bytes)
{
	int in = open(copy_src, O_RDONLY | O_CLOEXEC);
	int out = open(copy_dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		die("open %s or %s", copy_src, copy_dst);
	for (long left = bytes; left > 0;) {
		ssize_t r = read(in, buf, CHUNK);
		if (r < 0)
			die("read %s", copy_src);
		if (r == 0) {
			lseek(in, 0, SEEK_SET);
			lseek(out, 0, SEEK_SET);
			continue;
		}
		write_all(out, buf, r, copy_dst);
		left -= r;
	}
	close(in);
	close(out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Seconds per unit: calibrate, then the median of ROUNDS rounds of about budget/ROUNDS each. */
static double measure(bench_fn fn, long start, double budget)
{
	long n = start;
	double t;
	for (;;) {
		double t0 = now();
		fn(n);
		t = now() - t0;
		if (t >= budget / 20 || n > (1L << 40))
			break;
		n *= t < budget / 200 ? 8 : 2;
	}
	double per = t / n, r[ROUNDS];
	long rn = (long)(budget / ROUNDS / per);
	if (rn < 1)
		rn = 1;
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now();
		fn(rn);
		r[i] = (now() - t0) / rn;
	}
	qsort(r, ROUNDS, sizeof r[0], cmp_double);
	return r[ROUNDS / 2];
}

static void make_file(const char *path, long size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create %s", path);
	memset(buf, 'k', sizeof buf);
	for (long left = size; left > 0; left -= CHUNK)
		write_all(fd, buf, left < CHUNK ? left : CHUNK, path);
	close(fd);
}

int main(int argc, char **argv)
{
	double budget = 0.3;
	const char *dir = "/tmp";
	int c;
	while ((c = getopt(argc, argv, "t:d:f:")) != -1) {
		switch (c) {
		case 't': budget = atof(optarg); break;
		case 'd': dir = optarg; break;
		case 'f': stat_file = optarg; break;
		default:
			fprintf(stderr, "usage: microbench [-t SECONDS] [-d DIR] [-f FILE]\n");
			return 2;
		}
	}
	if (budget <= 0)
		budget = 0.3;
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(pread_path, sizeof pread_path, "%s/microbench.%d.pread", dir, (int)getpid());
	snprintf(copy_src, sizeof copy_src, "%s/microbench.%d.src", dir, (int)getpid());
	snprintf(copy_dst, sizeof copy_dst, "%s/microbench.%d.dst", dir, (int)getpid());
	make_file(pread_path, 16 * 4096);
	make_file(copy_src, COPY_SIZE);
	pread_fd = open(pread_path, O_RDONLY | O_CLOEXEC);
	if (pread_fd < 0)
		die("open %s", pread_path);

	printf("getppid %.3f us\n", measure(b_getppid, 1000, budget) * 1e6);
	printf("stat %.3f us\n", measure(b_stat, 100, budget) * 1e6);
	printf("open_close %.3f us\n", measure(b_open_close, 100, budget) * 1e6);
	printf("pread_4k %.3f us\n", measure(b_pread, 100, budget) * 1e6);
	printf("fork_exec_wait %.1f us\n", measure(b_fork_exec, 1, budget) * 1e6);
	printf("pipe %.1f MB/s\n", 1e-6 / measure(b_pipe, CHUNK * 4L, budget));
	printf("file_copy %.1f MB/s\n", 1e-6 / measure(b_copy, CHUNK * 4L, budget));

	close(pread_fd);
	unlink(pread_path);
	unlink(copy_src);
	unlink(copy_dst);
	return 0;
}
