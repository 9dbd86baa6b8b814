// Part of the tests, not the product: what QEMU's af-xdp netdev does with
// `inhibit=on,map-path=P` for one queue (net/af-xdp.c): make an AF_XDP socket with a UMEM
// and rings, bind it to IFNAME's QUEUE, and put it into the XSKMAP pinned at P at KEY.
// Debian's QEMU has no af-xdp backend, so this stands in for it against the kernel.
//
//   xsk-bind IFNAME QUEUE MAP_PATH KEY copy|zerocopy
//
// Prints one line: "ok ..." or "<stage> <errno name>: <text>" (exit 1). Raw syscalls
// and UAPI headers only, so it builds statically and runs on any guest.
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define FRAMES 64
#define FRAME_SIZE 4096
#define RING 64

static const char *errname(int e) {
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case ENODEV: return "ENODEV";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOMEM: return "ENOMEM";
	case ENOBUFS: return "ENOBUFS";
	default: return "E?";
	}
}

static int fail(const char *stage) {
	int e = errno;
	printf("%s %s: %s\n", stage, errname(e), strerror(e));
	return 1;
}

static long bpf(int cmd, union bpf_attr *attr) {
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: %s IFNAME QUEUE MAP_PATH KEY copy|zerocopy\n", argv[0]);
		return 2;
	}
	const char *ifname = argv[1];
	unsigned queue = (unsigned)strtoul(argv[2], NULL, 10);
	const char *map_path = argv[3];
	unsigned key = (unsigned)strtoul(argv[4], NULL, 10);
	int zerocopy = strcmp(argv[5], "zerocopy") == 0;

	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) return fail("if_nametoindex");

	int fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0) return fail("socket");

	void *area = mmap(NULL, FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) return fail("mmap");
	struct xdp_umem_reg reg = {
		.addr = (unsigned long)area,
		.len = FRAMES * FRAME_SIZE,
		.chunk_size = FRAME_SIZE,
	};
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) return fail("umem_reg");
	int ring = RING;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring))) return fail("fill_ring");
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof(ring))) return fail("completion_ring");
	if (setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring))) return fail("rx_ring");

	struct sockaddr_xdp sxdp = {
		.sxdp_family = AF_XDP,
		.sxdp_flags = zerocopy ? XDP_ZEROCOPY : XDP_COPY,
		.sxdp_ifindex = ifindex,
		.sxdp_queue_id = queue,
	};
	if (bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp))) return fail("bind");

	union bpf_attr get;
	memset(&get, 0, sizeof(get));
	get.pathname = (unsigned long)map_path;
	int map = (int)bpf(BPF_OBJ_GET, &get);
	if (map < 0) return fail("obj_get");

	union bpf_attr upd;
	memset(&upd, 0, sizeof(upd));
	upd.map_fd = map;
	upd.key = (unsigned long)&key;
	upd.value = (unsigned long)&fd;
	upd.flags = BPF_ANY;
	if (bpf(BPF_MAP_UPDATE_ELEM, &upd)) return fail("map_update");

	printf("ok ifindex=%u queue=%u mode=%s key=%u uid=%u\n", ifindex, queue, zerocopy ? "zerocopy" : "copy", key, getuid());
	return 0;
}
