# Packaging: the container images and the Helm chart.
#
#   make image [ARCH=arm64]   build the image for ARCH (amd64 or arm64;
#                     default: this machine's, amd64 here) and tag it
#                     $(IMAGE)-ARCH; the machine's own also $(IMAGE)
#   make images       both, and $(IMAGE) becomes a manifest list naming them
#                     (a multi-arch image: `podman manifest push`)
#   make image-test [ARCH=arm64]   build it from scratch (no layer cache) and
#                     run the image's binary (another architecture's under
#                     qemu-user-static): version, --help, check, present and
#                     cleanup against a Knot DNS server on the host's
#                     loopback, serve over HTTPS (tests/image)
#   make images-test  image-test for both, then the manifest list (removed
#                     again: $(IMAGE) is this machine's image after it)
#   make chart-test   render the chart with the Go renderer (tests/chart/render)
#                     and check it; load the deploy/ server snippets into
#                     the real servers (tests/chart)
#
# No Docker engine or registry is needed: podman/buildah with chroot
# isolation and a base image debootstrapped from the Debian mirror, cached
# under $(IMAGE_CACHE) for the day (scripts/image.sh). Another
# architecture's image is cross-compiled in the build stage (its -dev
# packages through multiarch, inside the build container only).

IMAGE ?= rfc2136-webhook:$(VERSION)
IMAGE_CACHE ?= $(O)/image
HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
ARCH ?= $(HOST_ARCH)
IMAGE_ARCHS := amd64 arm64
CHART_RENDER := $(O)/chart/render
GO_ENV := GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
	GOCACHE=$(abspath $(O))/chart/gocache

.PHONY: image images image-test images-test chart-test

# The packages the image of architecture $(1) needs on this machine:
# qemu-user-static for another architecture's.
image_deps = $(if $(filter $(HOST_ARCH),$(1)),image,image image-cross)

# Build the image for architecture $(1) (podman build arguments $(2)) as
# $(IMAGE)-$(1); this machine's architecture is also $(IMAGE).
define image_build
	$(Q)sh scripts/deps.sh $(call image_deps,$(1))
	$(Q)ARCH=$(1) VERSION=$(VERSION) sh scripts/image.sh build $(IMAGE_CACHE) \
		$(IMAGE)-$(1) $(2)
	$(Q)$(if $(filter $(HOST_ARCH),$(1)),sh scripts/image.sh tag $(IMAGE)-$(1) $(IMAGE))
endef

define image_test
	$(call image_build,$(1),--no-cache)
	$(Q)sh scripts/deps.sh test
	$(Q)IMAGE=$(IMAGE)-$(1) IMAGE_ARCH=$(1) VERSION=$(VERSION) $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/image/test_image.py $(PYTEST_ARGS)
endef

image:
	$(call image_build,$(ARCH))

images:
	$(call image_build,amd64)
	$(call image_build,arm64)
	$(Q)sh scripts/image.sh manifest $(IMAGE) $(IMAGE_ARCHS:%=$(IMAGE)-%)

image-test:
	$(call image_test,$(ARCH))

# The list, tested, gives way to this machine's image again (as after
# image-test): podman 4.3's `podman images` and prune fail while it exists.
images-test:
	$(call image_test,amd64)
	$(call image_test,arm64)
	$(Q)sh scripts/image.sh manifest $(IMAGE) $(IMAGE_ARCHS:%=$(IMAGE)-%)
	$(Q)IMAGE=$(IMAGE) IMAGE_ARCHS="$(IMAGE_ARCHS)" $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/image/test_manifest.py
	$(Q)sh scripts/image.sh tag $(IMAGE)-$(HOST_ARCH) $(IMAGE)

$(CHART_RENDER): $(wildcard tests/chart/render/*.go)
	$(Q)sh scripts/deps.sh chart
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GO      $@")
	$(Q)$(GO_ENV) go build -o $@ ./tests/chart/render

chart-test: $(CHART_RENDER)
	$(Q)sh scripts/deps.sh chart test
	$(Q)CHART_RENDER=$(abspath $(CHART_RENDER)) $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/chart $(PYTEST_ARGS)
