# Coffer's image: the coffer binary (operator and executor in one) on a static base.
# The local cluster (make run) builds the same image without Docker: test/ packs the static binary
# as an OCI tarball with go-containerregistry, because no container engine runs on our machines.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/coffer ./cmd/coffer
# The executor runs the pinned restic from the tools module (go.sum-verified).
RUN cd hack/tools/restic && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=0.19.1" -o /out/restic github.com/restic/restic/cmd/restic

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/coffer /usr/local/bin/coffer
COPY --from=build /out/restic /usr/local/bin/restic
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coffer"]
