# bitcoind for docker-compose.yml, built by tools/install.sh exactly as the tests build it:
# Bitcoin Core from the source in the crates.io crate libbitcoinkernel-sys, without a wallet.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY tools/install.sh tools/install.sh
RUN SYMBIOTE_TOOLS_DIR=/opt/tools tools/install.sh bitcoind \
 && cp /opt/tools/bitcoind-*/bin/bitcoind /opt/tools/bitcoind-*/bin/bitcoin-cli /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libevent-2.1-7 libevent-pthreads-2.1-7 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data bitcoin
COPY --from=build /usr/local/bin/bitcoind /usr/local/bin/bitcoin-cli /usr/local/bin/
USER bitcoin
VOLUME /data
EXPOSE 18443 18444
ENTRYPOINT ["bitcoind", "-regtest", "-datadir=/data", "-printtoconsole=1"]
