# syntax=docker/dockerfile:1
#
# tminus container image.
#
#   docker build -t tminus .
#   docker run -d --name tminus \
#     -v tminus-data:/data \
#     -v "$PWD/config.toml:/config/config.toml:ro" \
#     -e TMINUS_TELEGRAM_TOKEN=... \
#     tminus
#
# The container reads /config/config.toml (a missing file means all
# defaults) and keeps its database on the /data volume. Set
#   [store]
#   path = "/data"
# in that config; the default relative "data" would also stay on the volume
# (/data/data, since the working directory is /data), but an absolute path
# says what is meant. Pass tokens as environment variables
# (TMINUS_LL2_API_KEY, TMINUS_TELEGRAM_TOKEN, TMINUS_DISCORD_TOKEN) rather
# than in the mounted file. Validate a config with:
#   docker run --rm -v "$PWD/config.toml:/config/config.toml:ro" tminus check-config

FROM rust:1-slim-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io downloads and compiled dependencies between
# builds, so a source change recompiles only tminus itself. The target
# directory lives in the cache, hence the copy out within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tminus \
    && cp target/release/tminus /usr/local/bin/tminus

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 tminus \
    && useradd --system --uid 10001 --gid tminus --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin tminus \
    && mkdir -p /data /config \
    && chown tminus:tminus /data \
    && chmod 0700 /data
COPY --from=builder /usr/local/bin/tminus /usr/local/bin/tminus

# Numeric so that runtimes enforcing runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

# Health: with [server] listen = "0.0.0.0:9090" (or "127.0.0.1:9090") in the
# mounted config, run the container with -e TMINUS_HEALTHCHECK_PORT=9090 and
# Docker marks it unhealthy when /healthz answers anything but 200 (a feed
# not polled successfully for [server] health_max_age, or the store failing).
# Without TMINUS_HEALTHCHECK_PORT the check passes trivially: there is no
# endpoint to ask. The slim image has no curl; bash's /dev/tcp makes the
# request. /healthz answers 503 ("starting") until the first polls succeed;
# the start period covers that.
#   EXPOSE 9090    # only to scrape /metrics from outside the container
ENV TMINUS_HEALTHCHECK_PORT=""
HEALTHCHECK --interval=1m --timeout=10s --start-period=2m --retries=3 \
  CMD ["bash", "-c", "[ -z \"$TMINUS_HEALTHCHECK_PORT\" ] && exit 0; exec 3<>\"/dev/tcp/127.0.0.1/$TMINUS_HEALTHCHECK_PORT\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["tminus", "--config", "/config/config.toml"]
CMD ["run"]
