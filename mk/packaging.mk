# Packaging: the container image and the Helm chart.
#
#   make image        build the image (Dockerfile) and tag it $(IMAGE)
#   make image-test   build it from scratch (no layer cache) and run the
#                     image's binary: --version, and `check` against a Knot
#                     DNS server on the host's loopback (tests/image)
#   make chart-test   render the chart with the Go renderer (tests/chart/render)
#                     and check it; load the deploy/ server snippets into
#                     the real servers (tests/chart)
#
# No Docker engine or registry is needed: podman/buildah with chroot
# isolation and a base image debootstrapped from the Debian mirror, cached
# under $(IMAGE_CACHE) for the day (scripts/image.sh).

IMAGE ?= rfc2136-webhook:$(VERSION)
IMAGE_CACHE ?= $(O)/image
CHART_RENDER := $(O)/chart/render
GO_ENV := GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
	GOCACHE=$(abspath $(O))/chart/gocache

.PHONY: image image-test chart-test

image:
	$(Q)sh scripts/deps.sh image
	$(Q)VERSION=$(VERSION) sh scripts/image.sh build $(IMAGE_CACHE) $(IMAGE)

image-test:
	$(Q)sh scripts/deps.sh image test
	$(Q)VERSION=$(VERSION) sh scripts/image.sh build $(IMAGE_CACHE) $(IMAGE) --no-cache
	$(Q)IMAGE=$(IMAGE) VERSION=$(VERSION) $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/image $(PYTEST_ARGS)

$(CHART_RENDER): $(wildcard tests/chart/render/*.go)
	$(Q)sh scripts/deps.sh chart
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GO      $@")
	$(Q)$(GO_ENV) go build -o $@ ./tests/chart/render

chart-test: $(CHART_RENDER)
	$(Q)sh scripts/deps.sh chart test
	$(Q)CHART_RENDER=$(abspath $(CHART_RENDER)) $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/chart $(PYTEST_ARGS)
