#!/bin/sh
# Gather the runtime root file system of the container image (run in the
# Dockerfile's build stage): BINARY and the shared libraries ldd lists for
# it, the dynamic loader, the CA bundle, an unprivileged user 65532, and the
# Debian copyright and status files of every package those files come from
# (for licence compliance, and so image scanners know the versions).
#
#   [TRIPLET=aarch64-linux-gnu] sh scripts/image-rootfs.sh BINARY ROOTFS
#
# TRIPLET names the binary's multiarch directory when it was cross-compiled
# for another architecture: ldd cannot run it, so the libraries are found
# the way the dynamic loader would find them, from the DT_NEEDED entries
# (recursively) in that architecture's library directories, as installed by
# its packages (e.g. libknot13:arm64). Without TRIPLET, ldd lists them.
set -eu

bin=$1
root=$2
[ -x "$bin" ] || { echo "image-rootfs: $bin is not an executable" >&2; exit 1; }
rm -rf "$root"
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/etc/ssl/certs" \
	"$root/var/lib/dpkg/status.d" "$root/usr/share/doc"
# Debian bookworm's merged /usr: /lib and /lib64 are links into /usr, and
# the binary's interpreter is /lib64/ld-linux-x86-64.so.2 (amd64) or
# /lib/ld-linux-aarch64.so.1 (arm64).
ln -s usr/lib "$root/lib"
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] || { echo "image-rootfs: $bin names no interpreter" >&2; exit 1; }
case $interp in
/lib64/*) mkdir -p "$root/usr/lib64" && ln -s usr/lib64 "$root/lib64" ;;
esac
install -d -m 1777 "$root/tmp"

install -m 755 "$bin" "$root/usr/bin/rfc2136-webhook"
# The target's strip (binutils-TRIPLET comes with the cross compiler).
${TRIPLET:+$TRIPLET-}strip --strip-unneeded "$root/usr/bin/rfc2136-webhook"

pkgfiles=""
# Copy FILE (as ldd names it, through any symlinks) to the same path under
# the root, keeping the soname link.
copy_file()
{
	f=$1
	real=$(readlink -f "$f")
	dir=$(readlink -f "$(dirname "$f")")
	mkdir -p "$root$dir"
	cp -p "$real" "$root$dir/"
	if [ "$(basename "$f")" != "$(basename "$real")" ]; then
		ln -sf "$(basename "$real")" "$root$dir/$(basename "$f")"
	fi
	pkgfiles="$pkgfiles $f $real"
}

# The DT_NEEDED sonames of an ELF file, one a line.
needed()
{
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# Where the loader finds SONAME for TRIPLET: its multiarch directories
# (glibc's built-in search path; the image has no ld.so.cache).
find_lib()
{
	for d in "/lib/$TRIPLET" "/usr/lib/$TRIPLET" /lib /usr/lib; do
		if [ -e "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	echo "image-rootfs: $1 (needed by the $TRIPLET binary) is in no" \
		"$TRIPLET library directory: install its :ARCH package" >&2
	return 1
}

# What ldd would list for a foreign binary: the closure of DT_NEEDED, and
# the interpreter.
cross_ldd()
{
	todo=$(needed "$1")
	seen=""
	while [ -n "$todo" ]; do
		next=""
		for so in $todo; do
			case " $seen " in *" $so "*) continue ;; esac
			# ldd lists the loader once, by its interpreter path.
			[ "$so" = "${interp##*/}" ] && continue
			seen="$seen $so"
			path=$(find_lib "$so") || exit 1
			echo "$path"
			next="$next $(needed "$path")"
		done
		todo=$next
	done
	echo "$interp"
}

if [ -n "${TRIPLET:-}" ]; then
	libs=$(cross_ldd "$bin")
	libs=$(echo "$libs" | sort -u)
else
	# "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux... (0x...)".
	libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }' | sort -u)
fi
[ -n "$libs" ] || { echo "image-rootfs: ldd found no libraries" >&2; exit 1; }
for lib in $libs; do
	copy_file "$lib"
done
# The loader is also reached by its interpreter path.
[ -e "$root$interp" ] || { echo "image-rootfs: $interp missing" >&2; exit 1; }

cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
pkgfiles="$pkgfiles /usr/share/ca-certificates"

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
# Host names (a nameserver given by name, the Kubernetes API) resolve
# through /etc/hosts, then DNS; glibc's files and dns modules are in libc.
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
cp /etc/os-release "$root/etc/os-release" 2>/dev/null ||
	cp /usr/lib/os-release "$root/etc/os-release"

# The Debian packages the files come from: dpkg knows some by their
# pre-merged-/usr path (/lib/...), so ask for each spelling.
pkgs=""
for f in $pkgfiles; do
	p=""
	for g in "$f" "$(readlink -f "$f")" "${f#/usr}" "/usr$f"; do
		# "libc6:arm64: /lib/..." keeps the architecture: both
		# libc6:amd64 and libc6:arm64 are installed in a cross build.
		p=$(dpkg-query -S "$g" 2>/dev/null | head -n 1 | sed 's/: .*//') && [ -n "$p" ] && break
	done
	[ -n "$p" ] || { echo "image-rootfs: no package owns $f" >&2; exit 1; }
	pkgs="$pkgs $p"
done
for p in $(echo "$pkgs" | tr ' ' '\n' | sort -u); do
	name=${p%%:*}
	dpkg-query -s "$p" > "$root/var/lib/dpkg/status.d/$name"
	if [ -f "/usr/share/doc/$name/copyright" ]; then
		mkdir -p "$root/usr/share/doc/$name"
		cp "/usr/share/doc/$name/copyright" "$root/usr/share/doc/$name/"
	fi
done

# Everything root-owned and read-only for the 65532 user.
chown -R 0:0 "$root"
chmod -R go-w "$root"
chmod 1777 "$root/tmp"
echo "image-rootfs: $(echo "$libs" | wc -l) libraries from $(ls "$root/var/lib/dpkg/status.d" | wc -l) packages"
