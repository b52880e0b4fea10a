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
ENV TRAILCAR_CONFIG=""
# 8080: proxy port (what clients use). 9090: admin port (metrics, health, events API, viewer).
EXPOSE 8080 9090
USER nonroot:nonroot
ENTRYPOINT ["/trailcar"]
CMD ["serve", "--log-dir", "/var/log/trailcar", "--admin-listen", ":9090"]
