# syntax=docker/dockerfile:1
# exportd needs cgo (DuckDB). Build on Debian, run on distroless/cc (glibc).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/exportd ./cmd/exportd

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/exportd /usr/local/bin/exportd
COPY config /etc/exportd/config
COPY schedules /etc/exportd/schedules
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/exportd"]
CMD ["serve", "--config", "/etc/exportd/config/exportd.yaml"]
