#!/bin/sh
# Reproducer of the example, run as /repro by crashsig's initramfs (busybox sh).
# Queue two records, look at the stats, take one record back.
D=/sys/kernel/debug/fifodemo
if [ ! -d "$D" ]; then
	echo "repro: no fifodemo in this kernel"
	exit 0
fi
echo hello > "$D/push"
echo world > "$D/push"
cat "$D/stats"
cat "$D/pop"
