# syntax=docker/dockerfile:1
# The project's own images, from one release build of the workspace:
#
#   --target symbiote   a symbiote node (`symbiote run`, configured by SYMBIOTE_* variables)
#   --target relayer    the relayer (`relayer run`, configured by /etc/relayer/relayer.toml and
#                       RELAYER__* variables)
#   --target init       the one-shot setup of docker-compose.yml (tools/compose/init.sh): the
#                       `symbiote` binary with curl, jq and psql
#
# docker-compose.yml builds all three; by hand: docker build -f tools/docker/symbiote-relayer.Dockerfile --target relayer .
# The cache mounts keep cargo's downloads and build between builds (BuildKit, Docker's default
# builder since 23.0). Every image runs as user `symbiote`, uid and gid 10001, so that the
# volumes they share (genesis and keys in /state) have one owner.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p symbiote-node -p relayer \
 && mkdir -p /out \
 && cp target/release/symbiote target/release/relayer /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 symbiote \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home symbiote \
 && mkdir -p /data /state \
 && chown 10001:10001 /data /state
WORKDIR /data

FROM runtime AS symbiote
COPY --from=build /out/symbiote /usr/local/bin/symbiote
USER 10001:10001
ENV SYMBIOTE_LISTEN=0.0.0.0:7000 \
    SYMBIOTE_DB=/data/node.sqlite
VOLUME /data
EXPOSE 7000
# `symbiote status` fails unless the node answers with its head and governance state.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["symbiote", "status", "--node", "http://127.0.0.1:7000"]
ENTRYPOINT ["symbiote"]
CMD ["run"]

FROM runtime AS relayer
COPY --from=build /out/relayer /usr/local/bin/relayer
USER 10001:10001
# The default SQLite store (sqlite://relayer.sqlite) lands in /data, the working directory.
ENV RELAYER_CONFIG=/etc/relayer/relayer.toml \
    RELAYER_HEALTH_URL=http://127.0.0.1:8080/health
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS "$RELAYER_HEALTH_URL" >/dev/null || exit 1
ENTRYPOINT ["relayer"]
CMD ["run"]

FROM runtime AS init
RUN apt-get update \
 && apt-get install -y --no-install-recommends jq postgresql-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/symbiote /usr/local/bin/symbiote
USER 10001:10001
ENTRYPOINT ["/bin/sh"]
