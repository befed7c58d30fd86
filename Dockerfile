# cairn's image for those who build with Docker. It is not built in CI: the
# tested path is `make image` (tools/mkimage), which assembles the same
# image, for linux/amd64 and linux/arm64, without Docker.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(git log -1 --format=%cI) -t cairn .

FROM golang:1.26 AS build
ARG VERSION=dev
ARG REVISION=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/cairn ./cmd/cairn \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="cairn" \
      org.opencontainers.image.source="https://github.com/cairn-dev/cairn" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/cairn /usr/local/bin/cairn
# The data volume belongs at /var/lib/cairn, which the nonroot user owns.
COPY --from=build --chown=65532:65532 /out/data /var/lib/cairn
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/cairn"]
# cairn listens on loopback by default, which nobody outside the container
# could reach, and keeps its data in ./data. Flags, not ENV: arguments given
# to the container (serve --config FILE) replace these, and the file holds.
CMD ["serve", "--addr", "0.0.0.0:5000", "--data-dir", "/var/lib/cairn"]
