# tavern-server in a container. NOT BUILT HERE: this machine runs no container engine
# and pulls no base image; it mirrors what `deploy/tavern.service` and
# `deploy/tavern.toml` do, which are tested. Build: `docker build -t tavern .`
# Run: `docker run -p 5000:5000/udp -p 8080:8080 -p 8081:8081 -v tavern:/var/lib/tavern
#   -e TAVERN_ADMIN_TOKEN=... tavern`

# Build the server (headless: no window, sound or GPU libraries needed) and the web
# client.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
    && cargo install trunk --version 0.21.14 --locked
WORKDIR /src
COPY . .
RUN cargo build --release -p tavern-server --bin tavern-server
RUN WASM_BINDGEN=$(grep -A1 'name = "wasm-bindgen"' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p') \
    && cargo install wasm-bindgen-cli --version "$WASM_BINDGEN" --locked \
    && trunk build --release

# The runtime: the binary, the world, a non-root user.
FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/tavern --create-home tavern
WORKDIR /opt/tavern
COPY --from=build /src/target/release/tavern-server /usr/local/bin/tavern-server
COPY --from=build /src/maps ./maps
COPY --from=build /src/assets ./assets
COPY --from=build /src/dist ./dist
COPY deploy/tavern.toml /etc/tavern/tavern.toml
USER tavern
# Inside the container the HTTP API listens on every interface (publish it behind a
# TLS proxy); the rest is the sample configuration.
ENV TAVERN_HTTP=0.0.0.0:8080 TAVERN_CONFIG=/etc/tavern/tavern.toml
EXPOSE 5000/udp 8080/tcp 8081/tcp
VOLUME /var/lib/tavern
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
ENTRYPOINT ["/usr/local/bin/tavern-server"]
