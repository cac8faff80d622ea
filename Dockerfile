# zkd container image: a static binary on distroless, running as non-root.
#
#   docker build -t zkd --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d --name zkd -p 2181:2181 -p 7000:7000 -v zkd-data:/data zkd
#
# The default configuration is deploy/docker/zoo.cfg (dataDir=/data). Mount
# your own at /etc/zkd/zoo.cfg to change it; an ensemble member also needs
# /data/myid holding its server id (docs/ensemble.md).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The Makefile's build target: CGO_ENABLED=0, -trimpath, version stamped.
RUN make build VERSION=${VERSION} BIN=/out/zkd && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zkd /usr/local/bin/zkd
COPY deploy/docker/zoo.cfg /etc/zkd/zoo.cfg
# The data volume belongs to distroless's nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME /data
# client, quorum, election, AdminServer, Prometheus metrics
EXPOSE 2181 2888 3888 8080 7000
# ruok on the client port of /etc/zkd/zoo.cfg, so a mounted zoo.cfg with
# another clientPort is checked where the server listens (a fixed
# 127.0.0.1:2181 would fail there, or with --network host ask whatever else
# listens on 2181).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["/usr/local/bin/zkd", "4lw", "--timeout", "3s", "--config", "/etc/zkd/zoo.cfg", "ruok"]
ENTRYPOINT ["/usr/local/bin/zkd"]
CMD ["server", "--config", "/etc/zkd/zoo.cfg"]
