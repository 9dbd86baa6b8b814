/*
 * A counted UDP stream for the guest test, static so it runs in the busybox guest and, the
 * same binary, in the lab's external namespace. Counting on both ends is what lets the
 * test say how many datagrams crossed hvnet's path, which nc cannot tell.
 *
 *   udp send DST PORT COUNT [SRC]   -> "UDP_SENT n"  (SRC binds a source address first)
 *   udp recv PORT COUNT TIMEOUT_MS  -> "UDP_RECV n" and "UDP_FROM ADDR n" per source
 *                                      (stops at COUNT or after TIMEOUT_MS idle)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int addr(struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa;
	if (argc >= 5 && strcmp(argv[1], "send") == 0) {
		int count = atoi(argv[4]), sent = 0;
		if (argc > 5) {
			int one = 1;
			/* The spoof case: IP_TRANSPARENT lets the guest's kernel bind and route from
			 * an address it does not own (IP_FREEBIND alone fails the route: ENETUNREACH). */
			if (setsockopt(s, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))) {
				printf("UDP_ERR IP_TRANSPARENT: %s\n", strerror(errno));
				return 1;
			}
			if (addr(&sa, argv[5], 0) || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
				printf("UDP_ERR bind %s: %s\n", argv[5], strerror(errno));
				return 1;
			}
		}
		if (addr(&sa, argv[2], atoi(argv[3]))) {
			printf("UDP_ERR bad address %s\n", argv[2]);
			return 1;
		}
		int err = 0;
		for (int i = 0; i < count; i++) {
			char msg[64];
			int n = snprintf(msg, sizeof(msg), "hvnet-guest %d", i);
			if (sendto(s, msg, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == n)
				sent++;
			else if (!err)
				err = errno;
			/* Paced, so neither software-emulated end drops a burst for want of buffers. */
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (err)
			printf("UDP_ERR send: %s\n", strerror(err));
		printf("UDP_SENT %d\n", sent);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "recv") == 0) {
		int count = atoi(argv[3]), timeout = atoi(argv[4]), got = 0;
		addr(&sa, "0.0.0.0", atoi(argv[2]));
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
			printf("UDP_ERR bind port %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		printf("UDP_LISTENING\n");
		fflush(stdout);
		struct pollfd p = { .fd = s, .events = POLLIN };
		char buf[2048];
		/* Who sent it matters to the spoof test: a few distinct sources at most. */
		struct in_addr from[8];
		int per[8] = { 0 }, nfrom = 0;
		while (got < count && poll(&p, 1, timeout) > 0) {
			struct sockaddr_in src;
			socklen_t sl = sizeof(src);
			if (recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&src, &sl) <= 0)
				continue;
			got++;
			int i = 0;
			while (i < nfrom && from[i].s_addr != src.sin_addr.s_addr)
				i++;
			if (i == nfrom && nfrom < 8)
				from[nfrom++] = src.sin_addr;
			if (i < 8)
				per[i]++;
		}
		printf("UDP_RECV %d\n", got);
		for (int i = 0; i < nfrom; i++)
			printf("UDP_FROM %s %d\n", inet_ntoa(from[i]), per[i]);
		return 0;
	}
	fprintf(stderr, "usage: udp send DST PORT COUNT [SRC] | udp recv PORT COUNT TIMEOUT_MS\n");
	return 2;
}
