# syntax=docker/dockerfile:1
# Multi-stage: build a static binary, run it on distroless as nonroot.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/trailcar ./cmd/trailcar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trailcar /trailcar
# The audit log directory; mount a volume (an emptyDir in Kubernetes) here.
WORKDIR /var/log/trailcar
# The image's config: both ports on every address, the admin port behind a
# token that must be mounted (see examples/config/container.yaml).
COPY examples/config/container.yaml /etc/trailcar/config.yaml
ENV TRAILCAR_CONFIG=/etc/trailcar/config.yaml
# 8080: proxy port (what clients use). 9090: admin port (metrics, health, events API, viewer).
EXPOSE 8080 9090
USER nonroot:nonroot
ENTRYPOINT ["/trailcar"]
CMD ["serve"]
