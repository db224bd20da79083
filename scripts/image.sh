#!/bin/sh
# Build the container image with Debian's podman (chroot isolation), on a
# machine without a Docker engine and without an image registry: the base
# image the Dockerfile names, debian:bookworm-slim, is made locally with
# debootstrap from this machine's Debian mirror and imported under that name.
#
#   scripts/image.sh base DIR               make sure the local base exists
#   scripts/image.sh build DIR TAG [--no-cache]
#                                           base, then podman build -t TAG
#                                           for ARCH (amd64, arm64; default:
#                                           this machine's)
#   scripts/image.sh manifest TAG IMAGE...  TAG becomes a manifest list (a
#                                           multi-arch image) of the IMAGEs
#   scripts/image.sh tag IMAGE TAG          tag IMAGE as TAG (also where TAG
#                                           was a manifest list)
#   scripts/image.sh size TAG               print the image size in bytes
#
# DIR caches the debootstrap root file system as a tarball keyed by the date
# (UTC), so a rebuild on the same day skips the ~50 s debootstrap.
# Environment: ARCH, VERSION, REVISION (OCI labels), MIRROR (default: the
# URIs of this machine's apt sources).
#
# Another architecture's image is cross-built: the Dockerfile's build stage
# runs on this machine's architecture (its base is the local one) and
# installs the target's -dev packages through multiarch; only the runtime
# stage, from scratch, is for ARCH, so its config says so. Its unit tests
# run under this machine's qemu-ARCH-static (qemu-user-static), mounted
# into the build: there is no binfmt handler here.
set -eu

BASE=docker.io/library/debian:bookworm-slim
# Set on a base we made, so a real debian:bookworm-slim (pulled from a
# registry where there is one) is left alone.
BASE_LABEL=io.github.rfc2136-webhook.base-date

die()
{
	echo "image: $*" >&2
	exit 1
}

# The Debian mirror this machine's apt uses: deb822 sources first, then
# one-line sources.list; the first non-security entry wins.
mirror()
{
	if [ -n "${MIRROR:-}" ]; then
		echo "$MIRROR"
		return
	fi
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }')
	if [ -z "$m" ]; then
		m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
			2>/dev/null | awk '$1 == "deb" && $0 !~ /security/ {
				for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {
					print $i; exit } }')
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

base()
{
	dir=$1
	day=$(date -u +%Y%m%d)
	if podman image exists "$BASE"; then
		have=$(podman image inspect --format \
			"{{ index .Labels \"$BASE_LABEL\" }}" "$BASE")
		case $have in
		"$day")	return ;;
		""|"<no value>")
			echo "image: using the existing $BASE (not made here)"
			return ;;
		esac
	fi
	mkdir -p "$dir"
	tarball=$dir/bookworm-minbase-$day.tar
	if [ ! -s "$tarball" ]; then
		rootfs=$dir/rootfs.tmp
		rm -rf "$rootfs" "$dir"/bookworm-minbase-*.tar
		m=$(mirror)
		echo "image: debootstrap --variant=minbase bookworm from $m"
		debootstrap --variant=minbase bookworm "$rootfs" "$m" \
			>"$dir/debootstrap.log" 2>&1 ||
			die "debootstrap failed, see $dir/debootstrap.log"
		# apt inside the build must reach the same mirror as this
		# machine's apt: same sources and configuration. Only the
		# build stage uses them; the runtime stage starts from
		# scratch, so none of it reaches the shipped image.
		if ls /etc/apt/sources.list.d/* >/dev/null 2>&1; then
			rm -f "$rootfs/etc/apt/sources.list"
			cp -a /etc/apt/sources.list.d/. \
				"$rootfs/etc/apt/sources.list.d/"
		fi
		[ -f /etc/apt/sources.list ] &&
			cp -a /etc/apt/sources.list "$rootfs/etc/apt/"
		cp -a /etc/apt/apt.conf.d/. "$rootfs/etc/apt/apt.conf.d/"
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb \
			"$rootfs"/var/lib/apt/lists/*
		tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$rootfs"
	fi
	echo "image: importing $tarball as $BASE"
	podman import -q --change "LABEL $BASE_LABEL=$day" "$tarball" "$BASE" \
		>/dev/null
}

build()
{
	dir=$1
	tag=$2
	shift 2
	base "$dir"
	version=${VERSION:-$(cat VERSION)}
	revision=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
	created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	host=$(dpkg --print-architecture)
	arch=${ARCH:-$host}
	case $arch in
	amd64)	qemu=qemu-x86_64-static ;;
	arm64)	qemu=qemu-aarch64-static ;;
	*)	die "no support for ARCH=$arch: amd64 or arm64" ;;
	esac
	# Podman 4.3 does not predefine BUILDPLATFORM, which the Dockerfile's
	# build stage is FROM.
	set -- --platform "linux/$arch" --build-arg BUILDPLATFORM="linux/$host" "$@"
	if [ "$arch" != "$host" ]; then
		q=$(command -v "$qemu") ||
			die "$qemu not found: install qemu-user-static (scripts/deps.sh image-cross)"
		set -- --volume "$q:/usr/bin/$qemu:ro" "$@"
	fi
	# A manifest list under this name (make images) gives way to the image.
	podman manifest exists "$tag" 2>/dev/null && podman manifest rm "$tag" >/dev/null
	echo "image: podman build -t $tag $*"
	podman build --isolation=chroot --pull=never --layers "$@" \
		--build-arg VERSION="$version" \
		--build-arg REVISION="$revision" \
		--build-arg CREATED="$created" \
		-t "$tag" .
	# Dangling images of earlier builds of this project only take disk:
	# build stages (they carry the base's label) and replaced images.
	for f in "label=$BASE_LABEL" "label=org.opencontainers.image.title=rfc2136-webhook"; do
		podman image prune -f --filter "$f" >/dev/null 2>&1 || true
	done
	echo "image: $tag is $(size "$tag") bytes"
}

manifest()
{
	tag=$1
	shift
	if podman manifest exists "$tag" 2>/dev/null; then
		podman manifest rm "$tag" >/dev/null
	elif podman image exists "$tag"; then
		podman untag "$tag" "$tag"
	fi
	podman manifest create "$tag" >/dev/null
	for img in "$@"; do
		# By ID: a bare name would resolve to docker.io/library/NAME.
		id=$(podman image inspect --format "{{.Id}}" "$img")
		podman manifest add "$tag" "containers-storage:$id" >/dev/null
	done
	echo "image: $tag is a manifest list of $*:"
	podman manifest inspect "$tag" | awk -F'"' '/"architecture"/ { print "image:   " $4 }'
	# Podman 4.3 (Debian 12) reads a local list's instance manifests from
	# the list itself, where `manifest add` does not store them.
	echo "image: push it with: podman manifest push --all $tag docker://REGISTRY/$tag;"
	echo "image: podman 4.3's 'podman images' fails while it exists: podman manifest rm $tag"
}

tag()
{
	podman manifest exists "$2" 2>/dev/null && podman manifest rm "$2" >/dev/null
	podman tag "$1" "$2"
}

size()
{
	podman image inspect --format '{{.Size}}' "$1"
}

cd "$(dirname "$0")/.."
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
base)	[ $# -eq 1 ] || die "usage: $0 base DIR"; base "$@" ;;
build)	[ $# -ge 2 ] || die "usage: $0 build DIR TAG [--no-cache]"; build "$@" ;;
manifest) [ $# -ge 2 ] || die "usage: $0 manifest TAG IMAGE..."; manifest "$@" ;;
tag)	[ $# -eq 2 ] || die "usage: $0 tag IMAGE TAG"; tag "$@" ;;
size)	[ $# -eq 1 ] || die "usage: $0 size TAG"; size "$@" ;;
*)	die "usage: $0 base|build|manifest|size ..." ;;
esac
