# syntax=docker/dockerfile:1
# tenantry: one static Go binary on distroless/static, running as non-root.
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t tenantry .
#   docker buildx build --platform linux/arm64,linux/amd64 ...   (Fargate: ARM64 or X86_64)
#
# The build stage compiles exactly as `make build` does (CGO_ENABLED=0,
# -trimpath, -s -w, main.version); deploy/aws/dockerfile_test.go parses this
# file, checks these invariants and builds the binary the same way.
#
# HEALTHCHECK: distroless has no shell or curl, so the binary probes its own
# ops endpoint (`tenantry health`: 0 ready, 1 not ready, 4 not answering).
# The ECS task definition declares the same check (Docker's is ignored there).

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ENV GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tenantry ./cmd/tenantry

# PDFium (WebAssembly) is compiled to machine code here, once, on the target
# platform (emulated when cross-building), by the binary the image ships: a
# task loads it from TENANTRY_PDF_SEED_DIR in ~0.1 s instead of compiling it
# at its first PDF (~3 s, ~250 MB of transient memory). wazero keys the code
# by its version and the CPU features it uses (amd64: SSE4.1, BMI1, ABM;
# arm64: atomics); on a CPU without them the worker compiles, as without it.
FROM gcr.io/distroless/static-debian12:nonroot AS pdfium
COPY --from=build /out/tenantry /usr/local/bin/tenantry
RUN ["/usr/local/bin/tenantry", "pdfium", "compile", "--dir", "/home/nonroot/pdfium"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tenantry /usr/local/bin/tenantry
COPY --from=pdfium /home/nonroot/pdfium /usr/local/share/tenantry/pdfium
ENV TENANTRY_PDF_SEED_DIR=/usr/local/share/tenantry/pdfium
# 65532 is distroless's nonroot user; the ECS task definition sets it too.
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/tenantry", "health", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/tenantry"]
CMD ["worker"]
