# diagd container image: built with the Rust toolchain, run on slim Debian.
# Used by docker-compose.yml, which gives it a PostgreSQL through DATABASE_URL.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY migrations migrations
COPY src src
# The page's built bundle (embedded; no Node.js needed to build diagd).
COPY web/dist web/dist
RUN cargo build --release --locked --no-default-features --bin diagd

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/diagd --create-home diagd
COPY --from=build /src/target/release/diagd /usr/local/bin/diagd
USER diagd
ENV DIAGD_LISTEN=0.0.0.0:50051
EXPOSE 50051
ENTRYPOINT ["diagd"]
CMD ["serve"]
