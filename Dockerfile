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

# Database addons' images (docker build --target postgres|mariadb): Coffer beside the database's
# client programs, which the PostgreSQL and MariaDB/MySQL dumps run. config/addons names them.
# Redis and ZooKeeper need none: their addons use Coffer's own image, the last stage.
FROM debian:bookworm-slim AS postgres
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/coffer /out/restic /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coffer"]

FROM debian:bookworm-slim AS mariadb
RUN apt-get update && apt-get install -y --no-install-recommends mariadb-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/coffer /out/restic /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coffer"]

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/coffer /usr/local/bin/coffer
COPY --from=build /out/restic /usr/local/bin/restic
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coffer"]
