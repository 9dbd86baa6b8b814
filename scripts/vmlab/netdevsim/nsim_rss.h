/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvnet VM lab: RSS context and ntuple bookkeeping for netdevsim (see nsim_rss.c).
 * Built into Debian's netdevsim by scripts/vmlab/netdevsim/hook.sh.
 */
#ifndef HVNET_NSIM_RSS_H
#define HVNET_NSIM_RSS_H

#include <linux/ethtool.h>
#include <linux/mutex.h>
#include <linux/types.h>

#define NSIM_RSS_INDIR_SIZE	128
#define NSIM_RSS_KEY_SIZE	40
/* Context ids 1..15; the ethtool core allocates them below this bound. */
#define NSIM_RSS_MAX_CONTEXTS	16
#define NSIM_RSS_MAX_RULES	64

struct nsim_rss_rule {
	bool used;
	u32 rss_context;
	struct ethtool_rx_flow_spec fs;
};

struct nsim_rss {
	/* Serialises the default table and the rule slots. */
	struct mutex lock;
	u32 indir[NSIM_RSS_INDIR_SIZE];
	u8 key[NSIM_RSS_KEY_SIZE];
	bool indir_user;
	unsigned int n_rules;
	struct nsim_rss_rule rules[NSIM_RSS_MAX_RULES];
};

struct netdevsim;

void nsim_rss_init(struct netdevsim *ns);

#endif
