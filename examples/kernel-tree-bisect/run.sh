#!/bin/sh
# Bisect a KASAN use-after-free in a real kernel tree with crashsig (see README.md).
#
#   examples/kernel-tree-bisect/run.sh [extra crashsig bisect options, e.g. --any-crash]
#
# Environment: WORK (default ~/.cache/crashsig/kernel-tree-bisect) holds the git tree,
# the config and crashsig's work directory; JOBS (default 2) VMs run in parallel.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BOOT_FRAGMENT="$HERE/../../tests/qemu_data/tiny/boot.config"
KASAN_FRAGMENT="$HERE/../../tests/qemu_data/kasan/kasan.config"
TARBALL=/usr/src/linux-source-6.1.tar.xz
WORK=${WORK:-$HOME/.cache/crashsig/kernel-tree-bisect}
JOBS=${JOBS:-2}
REPO="$WORK/linux"
CONFIG="$WORK/kasan-tiny.config"
TITLE="KASAN: use-after-free Read in fifodemo_pop_read"

for tool in git make gcc flex bison qemu-system-x86_64 busybox crashsig; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (see README.md)" >&2; exit 2; }
done
[ -r "$TARBALL" ] || { echo "run.sh: $TARBALL missing: apt-get install linux-source-6.1" >&2; exit 2; }

# Fixed identities and dates: the same commit ids on every machine.
export GIT_AUTHOR_NAME="crashsig example" GIT_AUTHOR_EMAIL="example@crashsig.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

step() { printf '%s run.sh: %s\n' "$(date +%T)" "$*" >&2; }

# 1. Debian's linux-source-6.1 as one base commit, then the patch series.
if [ ! -e "$REPO/.git/refs/tags/base" ]; then
	step "unpacking $TARBALL into $REPO"
	rm -rf "$REPO"
	mkdir -p "$REPO"
	tar -xJf "$TARBALL" -C "$REPO" --strip-components=1
	cd "$REPO"
	git init -q
	# -f: Debian's top-level .gitignore ignores everything outside debian/
	git add -f -A
	GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z \
		git commit -q -m "Linux $(make -s kernelversion) (Debian linux-source-6.1)"
	git tag base
fi
cd "$REPO"
if [ "$(git rev-list --count base..HEAD)" -eq 0 ]; then
	step "applying $(ls "$HERE"/patches/*.patch | wc -l) patches"
	git am -q --committer-date-is-author-date "$HERE"/patches/*.patch
fi
git log --oneline >&2

# 2. The kernel config: tinyconfig plus the KASAN fragment, made outside the tree.
if [ ! -s "$CONFIG" ]; then
	step "making $CONFIG (tinyconfig + boot.config + kasan.config)"
	cfg=$(mktemp -d)
	make -s O="$cfg" tinyconfig >/dev/null
	scripts/kconfig/merge_config.sh -m -O "$cfg" "$cfg/.config" "$BOOT_FRAGMENT" "$KASAN_FRAGMENT" >/dev/null
	make -s O="$cfg" olddefconfig
	cp "$cfg/.config" "$CONFIG"
	rm -rf "$cfg"
fi

# 3. Bisect: base is good, HEAD reproduces the use-after-free.
step "crashsig bisect"
exec crashsig bisect --repo "$REPO" --kernel-tree "$CONFIG" --good base --bad HEAD \
	--repro "$HERE/repro.sh" --title "$TITLE" --jobs "$JOBS" --workdir "$WORK/bisect" "$@"
