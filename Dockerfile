# rfc2136-webhook container image, for amd64 and arm64 (one Dockerfile).
#
# Stage "build": Debian bookworm, on the machine's own architecture
# (BUILDPLATFORM), with the -dev packages of the target architecture
# (TARGETARCH, from --platform linux/ARCH): for another architecture they
# come through multiarch (dpkg --add-architecture) and the binary is
# cross-compiled (gcc-aarch64-linux-gnu, gcc-x86-64-linux-gnu), so no
# emulated compiler runs. A hardened build (FORTIFY_SOURCE, stack protector
# and clash protection, branch protection, PIE, full RELRO, non-executable
# stack) with warnings as errors; the unit tests run here, a failing (or
# hung: 15 min) one fails the image: a cross-built test runs under
# qemu-ARCH-static when the build provides it (scripts/image.sh mounts the
# host's), else through the host's binfmt handler (docker buildx); `make
# install`; then scripts/image-rootfs.sh gathers what the binary needs at
# run time, from the target architecture's packages.
#
# Stage "runtime": from scratch, with only that: the binary, the shared
# libraries ldd lists for it (and the dynamic loader), the CA certificates,
# passwd/group entries for 65532, an nsswitch.conf, an empty /tmp, and the
# Debian copyright and package status of every library (for licences and
# image scanners). No shell, no package manager, no compiler. It runs as
# 65532:65532 and writes nothing to its root file system. Its config names
# the target architecture.
#
# On a machine without a Docker engine or registry: `make image ARCH=arm64`,
# `make images` for both and a manifest list (podman build --isolation=chroot
# on a debootstrapped local debian:bookworm-slim; scripts/image.sh). With
# docker buildx: `docker buildx build --platform linux/amd64,linux/arm64 .`

FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS build
ARG TARGETARCH
ARG DEBIAN_FRONTEND=noninteractive
# ARCH: the target's Debian architecture; TRIPLET: its multiarch directory
# and cross-tool prefix. A foreign target's libraries are ARCH packages
# (e.g. libknot-dev:arm64), installed beside nothing of the build
# architecture's, so packages without Multi-Arch: same (libknot) are fine.
RUN set -eu; \
	build=$(dpkg --print-architecture); arch=${TARGETARCH:-$build}; \
	case $arch in \
	amd64) triplet=x86_64-linux-gnu ;; \
	arm64) triplet=aarch64-linux-gnu ;; \
	*) echo "image: no support for architecture $arch" >&2; exit 1 ;; \
	esac; \
	devs="libc6-dev libknot-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev \
		libyaml-dev libssl-dev libgnutls28-dev libkrb5-dev libcmocka-dev"; \
	if [ "$arch" = "$build" ]; then \
		cross=""; \
	else \
		dpkg --add-architecture "$arch"; \
		cross=gcc-$(echo "$triplet" | tr _ -); \
		devs=$(for p in $devs; do printf '%s:%s ' "$p" "$arch"; done); \
	fi; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		make gcc pkg-config binutils ca-certificates $cross $devs; \
	rm -rf /var/lib/apt/lists/*; \
	printf 'ARCH=%s\nTRIPLET=%s\n' "$arch" "$triplet" > /etc/image-target

WORKDIR /src
COPY . .
# VERSION comes from the VERSION file; the build arg only labels the image.
RUN set -eu; \
	. /etc/image-target; \
	HARDEN_CFLAGS="-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE"; \
	case $ARCH in \
	amd64) HARDEN_CFLAGS="$HARDEN_CFLAGS -fcf-protection" ;; \
	arm64) HARDEN_CFLAGS="$HARDEN_CFLAGS -mbranch-protection=standard" ;; \
	esac; \
	HARDEN_LDFLAGS="-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack"; \
	run=""; rootfs_triplet=""; \
	if [ "$ARCH" = "$(dpkg --print-architecture)" ]; then \
		cc=gcc; \
	else \
		cc=$TRIPLET-gcc; rootfs_triplet=$TRIPLET; \
		export PKG_CONFIG_LIBDIR=/usr/lib/$TRIPLET/pkgconfig:/usr/share/pkgconfig; \
		q=qemu-${TRIPLET%%-*}-static; \
		if command -v "$q" >/dev/null; then run=$q; \
		else echo "image: no $q here; running the $ARCH unit tests through binfmt"; fi; \
	fi; \
	rm -rf build; \
	make -j"$(nproc)" WERROR=1 CC="$cc" \
		CFLAGS="$HARDEN_CFLAGS" LDFLAGS="$HARDEN_LDFLAGS" all unit; \
	pass=0; fail=0; \
	for t in build/tests/test_*; do \
		[ -x "$t" ] || continue; \
		if timeout 900 $run "$t" >"$t.log" 2>&1; then pass=$((pass+1)); \
		else fail=$((fail+1)); cat "$t.log"; echo "FAILED: $t"; fi; \
	done; \
	echo "unit ($ARCH): $pass passed, $fail failed"; \
	[ "$fail" -eq 0 ]; \
	make install DESTDIR=/out PREFIX=/usr CC="$cc" \
		CFLAGS="$HARDEN_CFLAGS" LDFLAGS="$HARDEN_LDFLAGS"; \
	TRIPLET=$rootfs_triplet sh scripts/image-rootfs.sh /out/usr/bin/rfc2136-webhook /rootfs

FROM scratch AS runtime
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
COPY --from=build /rootfs/ /
ENV PATH=/usr/bin \
	SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
ENTRYPOINT ["rfc2136-webhook"]
CMD ["serve"]
LABEL org.opencontainers.image.title="rfc2136-webhook" \
	org.opencontainers.image.description="cert-manager ACME DNS-01 webhook solver: RFC 2136 dynamic updates signed with TSIG" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${REVISION}" \
	org.opencontainers.image.created="${CREATED}" \
	org.opencontainers.image.base.name="scratch" \
	org.opencontainers.image.vendor="rfc2136-webhook"
