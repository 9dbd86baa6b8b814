/*
 * Runs inside the test guest: attaches (or, with "off", detaches) a 2-instruction
 * `return XDP_PASS` program in driver mode on one interface and prints one line the test
 * parses. Built static so the busybox initramfs needs no libc or libbpf; the kernel's
 * extack is printed because virtio-net says there why it refuses (e.g. too few TX rings).
 *
 *   xdp-attach IFNAME [off]
 *   -> "XDP_ATTACH IFNAME ok" | "XDP_ATTACH IFNAME err ERRNO extack=TEXT"
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static int load_pass(void)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[4096];
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	attr.log_buf = (unsigned long)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0)
		fprintf(stderr, "BPF_PROG_LOAD: %s\n%s\n", strerror(errno), log);
	return fd;
}

static void nla_put(struct nlmsghdr *n, unsigned short type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: xdp-attach IFNAME [off]\n");
		return 2;
	}
	const char *ifname = argv[1];
	int detach = argc > 2 && strcmp(argv[2], "off") == 0;
	int ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		printf("XDP_ATTACH %s err %d extack=no such interface\n", ifname, errno);
		return 1;
	}
	int prog = detach ? -1 : load_pass();
	if (!detach && prog < 0) {
		printf("XDP_ATTACH %s err %d extack=program load failed\n", ifname, errno);
		return 1;
	}

	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char buf[256];
	} req;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.n.nlmsg_type = RTM_SETLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.n.nlmsg_seq = 1;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = ifindex;

	struct nlattr *xdp = (struct nlattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
	xdp->nla_type = IFLA_XDP | NLA_F_NESTED;
	req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + NLA_HDRLEN;
	unsigned int flags = XDP_FLAGS_DRV_MODE;
	nla_put(&req.n, IFLA_XDP_FD, &prog, sizeof(prog));
	nla_put(&req.n, IFLA_XDP_FLAGS, &flags, sizeof(flags));
	xdp->nla_len = (char *)&req + req.n.nlmsg_len - (char *)xdp;

	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int one = 1;
	setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (sendto(s, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("XDP_ATTACH %s err %d extack=send failed\n", ifname, errno);
		return 1;
	}
	static char reply[8192];
	int len = recv(s, reply, sizeof(reply), 0);
	if (len < 0) {
		printf("XDP_ATTACH %s err %d extack=recv failed\n", ifname, errno);
		return 1;
	}
	struct nlmsghdr *h = (struct nlmsghdr *)reply;
	if (h->nlmsg_type != NLMSG_ERROR) {
		printf("XDP_ATTACH %s err 0 extack=unexpected reply %d\n", ifname, h->nlmsg_type);
		return 1;
	}
	struct nlmsgerr *e = NLMSG_DATA(h);
	if (e->error == 0) {
		printf("XDP_ATTACH %s ok\n", ifname);
		return 0;
	}
	/* With an error the request is echoed back, then the extack attributes follow. */
	const char *msg = "";
	if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
		int off = sizeof(*e) + ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : e->msg.nlmsg_len - sizeof(struct nlmsghdr));
		char *p = (char *)e + NLMSG_ALIGN(off);
		char *end = (char *)h + h->nlmsg_len;
		while (p + NLA_HDRLEN <= end) {
			struct nlattr *a = (struct nlattr *)p;
			if (a->nla_len < NLA_HDRLEN)
				break;
			if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
				msg = p + NLA_HDRLEN;
			p += NLA_ALIGN(a->nla_len);
		}
	}
	printf("XDP_ATTACH %s err %d extack=%s\n", ifname, -e->error, msg);
	return 1;
}
