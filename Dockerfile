# rfc2136-webhook container image.
#
# Stage "build": Debian bookworm with the -dev packages; a hardened build
# (FORTIFY_SOURCE, stack protector and clash protection, PIE, full RELRO,
# non-executable stack) with warnings as errors; the unit tests run here, a
# failing (or hung: 15 min) one fails the image; `make install`; then scripts/image-rootfs.sh
# gathers what the binary needs at run time.
#
# Stage "runtime": from scratch, with only that: the binary, the shared
# libraries ldd lists for it (and the dynamic loader), the CA certificates,
# passwd/group entries for 65532, an nsswitch.conf, an empty /tmp, and the
# Debian copyright and package status of every library (for licences and
# image scanners). No shell, no package manager, no compiler. It runs as
# 65532:65532 and writes nothing to its root file system.
#
# On a machine without a Docker engine or registry: `make image` (podman
# build --isolation=chroot on a debootstrapped local debian:bookworm-slim;
# scripts/image.sh).

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		make gcc libc6-dev pkg-config binutils ca-certificates \
		libknot-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev \
		libyaml-dev libssl-dev libgnutls28-dev libkrb5-dev libcmocka-dev \
	&& rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# VERSION comes from the VERSION file; the build arg only labels the image.
RUN set -eu; \
	HARDEN_CFLAGS="-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE"; \
	case "$(dpkg --print-architecture)" in \
	amd64) HARDEN_CFLAGS="$HARDEN_CFLAGS -fcf-protection" ;; \
	arm64) HARDEN_CFLAGS="$HARDEN_CFLAGS -mbranch-protection=standard" ;; \
	esac; \
	HARDEN_LDFLAGS="-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack"; \
	rm -rf build; \
	make -j"$(nproc)" WERROR=1 CFLAGS="$HARDEN_CFLAGS" LDFLAGS="$HARDEN_LDFLAGS" all unit; \
	pass=0; fail=0; \
	for t in build/tests/test_*; do \
		[ -x "$t" ] || continue; \
		if timeout 900 "$t" >"$t.log" 2>&1; then pass=$((pass+1)); \
		else fail=$((fail+1)); cat "$t.log"; echo "FAILED: $t"; fi; \
	done; \
	echo "unit: $pass passed, $fail failed"; \
	[ "$fail" -eq 0 ]; \
	make install DESTDIR=/out PREFIX=/usr CFLAGS="$HARDEN_CFLAGS" LDFLAGS="$HARDEN_LDFLAGS"; \
	sh scripts/image-rootfs.sh /out/usr/bin/rfc2136-webhook /rootfs

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
