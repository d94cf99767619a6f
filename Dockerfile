# syntax=docker/dockerfile:1
# exportd container image.
#
# exportd needs cgo: DuckDB is C++ and links glibc and libstdc++. It is built
# on Debian 12 (bookworm) and runs on distroless/cc-debian12, which has
# exactly that glibc, libstdc++ and libgcc_s, CA certificates, tzdata and a
# nonroot user (65532), and no shell or package manager: less to patch and
# nothing for an intruder to run. A slim Debian image would work too but
# ships a shell, apt and ~80 MB more.
#
#   docker build --build-arg VERSION=1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t exportd:1.2.3 .
#   docker run -d --name exportd -p 8080:8080 \
#     -v "$PWD/deploy/config:/etc/exportd/config:ro" \
#     -v "$PWD/deploy/schedules:/etc/exportd/schedules:ro" \
#     -v exportd-state:/var/lib/exportd \
#     -e EXPORTD_TOKEN -e AWS_REGION exportd:1.2.3
#
# Config and schedules are mounted, not baked in; secrets come from the
# environment or mounted files (the config's ${ENV}/file: references).

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/exportd ./cmd/exportd
# The state volume's mount point, owned by the runtime's nonroot user (the
# runtime image has no shell to create it).
RUN mkdir -p /out/state

FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="exportd" \
      org.opencontainers.image.description="Scheduled, verifiable exports of warehouse data to long-term archives" \
      org.opencontainers.image.source="https://github.com/exportd/exportd" \
      org.opencontainers.image.documentation="https://github.com/exportd/exportd#deploy" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /out/exportd /usr/local/bin/exportd
COPY --from=build --chown=65532:65532 /out/state /var/lib/exportd
# Read by serve, healthcheck and the API client commands (docker exec).
ENV EXPORTD_CONFIG=/etc/exportd/config/exportd.yaml
VOLUME ["/var/lib/exportd"]
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/exportd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/exportd", "serve"]
CMD ["--config", "/etc/exportd/config/exportd.yaml"]
