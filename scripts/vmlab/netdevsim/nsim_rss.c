// SPDX-License-Identifier: GPL-2.0
/*
 * hvnet VM lab: RSS contexts and ntuple rules for netdevsim, as bookkeeping.
 *
 * netdevsim has no RSS or flow steering. A lab host needs both so that the kernel's own
 * ethtool core judges what hvnet asks for: it allocates context ids, copies and
 * validates indirection tables against the ring count, refuses a rule into a context
 * that does not exist and refuses deleting a context a rule still uses. This file only
 * remembers what the core hands it (the default context's table and key, the rules)
 * and answers the core's questions about them; no packet is steered.
 *
 * Locking: the core calls these ops with the device's ops lock held (rtnl or the
 * instance lock); our own mutex keeps the bookkeeping consistent regardless.
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/string.h>

#include "netdevsim.h"

static struct nsim_rss *nsim_rss(struct net_device *dev)
{
	struct netdevsim *ns = netdev_priv(dev);

	return &ns->ethtool.rss;
}

static u32 nsim_rss_rings(struct net_device *dev)
{
	return dev->real_num_rx_queues;
}

static u32 nsim_rss_get_rx_ring_count(struct net_device *dev)
{
	return nsim_rss_rings(dev);
}

static u32 nsim_rss_get_indir_size(struct net_device *dev)
{
	return NSIM_RSS_INDIR_SIZE;
}

static u32 nsim_rss_get_key_size(struct net_device *dev)
{
	return NSIM_RSS_KEY_SIZE;
}

/* Only the Toeplitz hash and no input transformation, like most NICs without XOR. */
static int nsim_rss_check_hash(const struct ethtool_rxfh_param *rxfh,
			       struct netlink_ext_ack *extack)
{
	if (rxfh->hfunc != ETH_RSS_HASH_NO_CHANGE &&
	    rxfh->hfunc != ETH_RSS_HASH_TOP) {
		NL_SET_ERR_MSG(extack, "netdevsim RSS supports only the Toeplitz hash");
		return -EOPNOTSUPP;
	}
	if (rxfh->input_xfrm != RXH_XFRM_NO_CHANGE && rxfh->input_xfrm) {
		NL_SET_ERR_MSG(extack, "netdevsim RSS has no input transformation");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int nsim_rss_get_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh)
{
	struct nsim_rss *rss = nsim_rss(dev);

	rxfh->hfunc = ETH_RSS_HASH_TOP;
	mutex_lock(&rss->lock);
	if (rxfh->indir)
		memcpy(rxfh->indir, rss->indir, sizeof(rss->indir));
	if (rxfh->key)
		memcpy(rxfh->key, rss->key, sizeof(rss->key));
	mutex_unlock(&rss->lock);
	return 0;
}

static int nsim_rss_set_rxfh(struct net_device *dev, struct ethtool_rxfh_param *rxfh,
			     struct netlink_ext_ack *extack)
{
	struct nsim_rss *rss = nsim_rss(dev);
	int err;

	err = nsim_rss_check_hash(rxfh, extack);
	if (err)
		return err;
	mutex_lock(&rss->lock);
	if (rxfh->indir)
		memcpy(rss->indir, rxfh->indir, sizeof(rss->indir));
	if (rxfh->key)
		memcpy(rss->key, rxfh->key, sizeof(rss->key));
	mutex_unlock(&rss->lock);
	return 0;
}

/*
 * The core stores every context's table and key; a driver fills in only what the user
 * left out, as hardware would pick defaults.
 */
static int nsim_rss_create_context(struct net_device *dev,
				   struct ethtool_rxfh_context *ctx,
				   const struct ethtool_rxfh_param *rxfh,
				   struct netlink_ext_ack *extack)
{
	u32 *indir = ethtool_rxfh_context_indir(ctx);
	int err;
	u32 i;

	err = nsim_rss_check_hash(rxfh, extack);
	if (err)
		return err;
	if (!rxfh->indir)
		for (i = 0; i < ctx->indir_size; i++)
			indir[i] = ethtool_rxfh_indir_default(i, nsim_rss_rings(dev));
	if (!rxfh->key)
		netdev_rss_key_fill(ethtool_rxfh_context_key(ctx), ctx->key_size);
	ctx->hfunc = ETH_RSS_HASH_TOP;
	return 0;
}

static int nsim_rss_modify_context(struct net_device *dev,
				   struct ethtool_rxfh_context *ctx,
				   const struct ethtool_rxfh_param *rxfh,
				   struct netlink_ext_ack *extack)
{
	return nsim_rss_check_hash(rxfh, extack);
}

static int nsim_rss_remove_context(struct net_device *dev,
				   struct ethtool_rxfh_context *ctx, u32 rss_context,
				   struct netlink_ext_ack *extack)
{
	return 0;
}

/* The flow types hvnet steers (DESIGN.md, RssContext flows); extensions are refused. */
static bool nsim_rss_flow_supported(u32 flow_type)
{
	if (flow_type & (FLOW_EXT | FLOW_MAC_EXT))
		return false;
	switch (flow_type & ~FLOW_RSS) {
	case TCP_V4_FLOW:
	case UDP_V4_FLOW:
	case TCP_V6_FLOW:
	case UDP_V6_FLOW:
	case IPV4_USER_FLOW:
	case IPV6_USER_FLOW:
	case ETHER_FLOW:
		return true;
	default:
		return false;
	}
}

static int nsim_rss_pick_location(struct nsim_rss *rss, u32 loc)
{
	int i;

	switch (loc) {
	case RX_CLS_LOC_ANY:
	case RX_CLS_LOC_FIRST:
		for (i = 0; i < NSIM_RSS_MAX_RULES; i++)
			if (!rss->rules[i].used)
				return i;
		return -ENOSPC;
	case RX_CLS_LOC_LAST:
		for (i = NSIM_RSS_MAX_RULES - 1; i >= 0; i--)
			if (!rss->rules[i].used)
				return i;
		return -ENOSPC;
	default:
		return loc < NSIM_RSS_MAX_RULES ? (int)loc : -EINVAL;
	}
}

static int nsim_rss_insert_rule(struct net_device *dev, struct ethtool_rxnfc *info)
{
	struct ethtool_rx_flow_spec *fs = &info->fs;
	struct nsim_rss *rss = nsim_rss(dev);
	struct nsim_rss_rule *rule;
	int loc;

	if (!nsim_rss_flow_supported(fs->flow_type))
		return -EOPNOTSUPP;
	/*
	 * A rule into a context has ring offset 0 and an existing context: the core has
	 * checked both. A plain rule names a queue of this device (or drops).
	 */
	if (!(fs->flow_type & FLOW_RSS) && fs->ring_cookie != RX_CLS_FLOW_DISC) {
		if (ethtool_get_flow_spec_ring_vf(fs->ring_cookie))
			return -EINVAL;
		if (ethtool_get_flow_spec_ring(fs->ring_cookie) >= nsim_rss_rings(dev))
			return -EINVAL;
	}

	mutex_lock(&rss->lock);
	loc = nsim_rss_pick_location(rss, fs->location);
	if (loc < 0) {
		mutex_unlock(&rss->lock);
		return loc;
	}
	rule = &rss->rules[loc];
	if (!rule->used)
		rss->n_rules++;
	rule->used = true;
	rule->fs = *fs;
	rule->fs.location = loc;
	rule->rss_context = fs->flow_type & FLOW_RSS ? info->rss_context : 0;
	mutex_unlock(&rss->lock);

	fs->location = loc;
	return 0;
}

static int nsim_rss_delete_rule(struct net_device *dev, u32 loc)
{
	struct nsim_rss *rss = nsim_rss(dev);
	int err = 0;

	mutex_lock(&rss->lock);
	if (loc >= NSIM_RSS_MAX_RULES || !rss->rules[loc].used) {
		err = -ENOENT;
	} else {
		memset(&rss->rules[loc], 0, sizeof(rss->rules[loc]));
		rss->n_rules--;
	}
	mutex_unlock(&rss->lock);
	return err;
}

static int nsim_rss_set_rxnfc(struct net_device *dev, struct ethtool_rxnfc *info)
{
	switch (info->cmd) {
	case ETHTOOL_SRXCLSRLINS:
		return nsim_rss_insert_rule(dev, info);
	case ETHTOOL_SRXCLSRLDEL:
		return nsim_rss_delete_rule(dev, info->fs.location);
	default:
		return -EOPNOTSUPP;
	}
}

static int nsim_rss_get_rxnfc(struct net_device *dev, struct ethtool_rxnfc *info,
			      u32 *rule_locs)
{
	struct nsim_rss *rss = nsim_rss(dev);
	struct nsim_rss_rule *rule;
	unsigned int i, n = 0;
	int err = 0;

	mutex_lock(&rss->lock);
	switch (info->cmd) {
	case ETHTOOL_GRXRINGS:
		info->data = nsim_rss_rings(dev);
		break;
	case ETHTOOL_GRXCLSRLCNT:
		info->rule_cnt = rss->n_rules;
		info->data = NSIM_RSS_MAX_RULES | RX_CLS_LOC_SPECIAL;
		break;
	case ETHTOOL_GRXCLSRULE:
		if (info->fs.location >= NSIM_RSS_MAX_RULES ||
		    !rss->rules[info->fs.location].used) {
			err = -ENOENT;
			break;
		}
		rule = &rss->rules[info->fs.location];
		info->fs = rule->fs;
		if (rule->fs.flow_type & FLOW_RSS)
			info->rss_context = rule->rss_context;
		break;
	case ETHTOOL_GRXCLSRLALL:
		if (info->rule_cnt < rss->n_rules) {
			err = -EMSGSIZE;
			break;
		}
		for (i = 0; i < NSIM_RSS_MAX_RULES; i++)
			if (rss->rules[i].used)
				rule_locs[n++] = i;
		info->rule_cnt = n;
		info->data = NSIM_RSS_MAX_RULES;
		break;
	default:
		err = -EOPNOTSUPP;
	}
	mutex_unlock(&rss->lock);
	return err;
}

/*
 * netdevsim's ethtool_ops are const and shared by its devices: ours is one copy of
 * them with the RSS and ntuple ops added, made once and shared the same way.
 */
static struct ethtool_ops nsim_rss_ethtool_ops;
static DEFINE_MUTEX(nsim_rss_ops_lock);

void nsim_rss_init(struct netdevsim *ns)
{
	struct net_device *dev = ns->netdev;
	struct nsim_rss *rss = &ns->ethtool.rss;
	u32 i;

	mutex_lock(&nsim_rss_ops_lock);
	if (!nsim_rss_ethtool_ops.get_rxfh) {
		nsim_rss_ethtool_ops = *dev->ethtool_ops;
		nsim_rss_ethtool_ops.rxfh_per_ctx_key = 1;
		nsim_rss_ethtool_ops.rxfh_max_num_contexts = NSIM_RSS_MAX_CONTEXTS;
		nsim_rss_ethtool_ops.get_rx_ring_count = nsim_rss_get_rx_ring_count;
		nsim_rss_ethtool_ops.get_rxfh_indir_size = nsim_rss_get_indir_size;
		nsim_rss_ethtool_ops.get_rxfh_key_size = nsim_rss_get_key_size;
		nsim_rss_ethtool_ops.get_rxfh = nsim_rss_get_rxfh;
		nsim_rss_ethtool_ops.set_rxfh = nsim_rss_set_rxfh;
		nsim_rss_ethtool_ops.create_rxfh_context = nsim_rss_create_context;
		nsim_rss_ethtool_ops.modify_rxfh_context = nsim_rss_modify_context;
		nsim_rss_ethtool_ops.remove_rxfh_context = nsim_rss_remove_context;
		nsim_rss_ethtool_ops.get_rxnfc = nsim_rss_get_rxnfc;
		nsim_rss_ethtool_ops.set_rxnfc = nsim_rss_set_rxnfc;
	}
	mutex_unlock(&nsim_rss_ops_lock);
	dev->ethtool_ops = &nsim_rss_ethtool_ops;

	mutex_init(&rss->lock);
	for (i = 0; i < NSIM_RSS_INDIR_SIZE; i++)
		rss->indir[i] = ethtool_rxfh_indir_default(i, dev->num_rx_queues);
	netdev_rss_key_fill(rss->key, sizeof(rss->key));
	/* Flow steering is always on: rules are kept, not flushed, so it is not togglable. */
	dev->features |= NETIF_F_NTUPLE;
}
