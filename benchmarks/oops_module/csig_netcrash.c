// SPDX-License-Identifier: GPL-2.0
/* Benchmark helper: crash in a packet handler so the oops carries the deep network
 * receive/transmit stack of vmlinux (about 20 frames). Load it, then ping 127.0.0.1. */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/if_ether.h>
#include <linux/skbuff.h>

static noinline void csig_net_bug(const struct sk_buff *skb)
{
	volatile unsigned int *p = (volatile unsigned int *)(unsigned long)(skb->len & 0);
	*p = skb->len; /* NULL dereference */
}

static int csig_rcv(struct sk_buff *skb, struct net_device *dev, struct packet_type *pt,
		    struct net_device *orig_dev)
{
	if (skb->len >= 28)
		csig_net_bug(skb);
	kfree_skb(skb);
	return 0;
}

static struct packet_type csig_pt = {
	.type = htons(ETH_P_IP),
	.func = csig_rcv,
};

static int __init csig_init(void)
{
	dev_add_pack(&csig_pt);
	return 0;
}

static void __exit csig_exit(void)
{
	dev_remove_pack(&csig_pt);
}

module_init(csig_init);
module_exit(csig_exit);
MODULE_LICENSE("GPL");
