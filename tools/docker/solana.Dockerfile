# The Solana test validator for docker-compose.yml: tools/solana-validator, built by
# tools/install.sh exactly as the tests build it (about 20 minutes on 2 cores the first time).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY tools/install.sh tools/install.sh
COPY tools/solana-validator tools/solana-validator
RUN SYMBIOTE_TOOLS_DIR=/opt/tools tools/install.sh solana \
 && cp /opt/tools/solana-validator-*/bin/symbiote-solana-validator /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libssl3 libudev1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data solana
COPY --from=build /usr/local/bin/symbiote-solana-validator /usr/local/bin/
USER solana
EXPOSE 8899 8900 9900
ENTRYPOINT ["symbiote-solana-validator", "--ledger", "/data/ledger", "--bind-address", "0.0.0.0", \
            "--rpc-port", "8899", "--faucet-port", "9900", "--gossip-port", "8001", \
            "--dynamic-port-range", "8002-8050"]
