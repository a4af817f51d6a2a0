# Multi-stage build on Debian bookworm.  Both stages install from the package
# lists in scripts/install-deps.sh, so the image and `make test` agree.
FROM debian:bookworm-slim AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends $(bash /src/scripts/install-deps.sh --print-build) \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN make clean && make

FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends $(bash /tmp/install-deps.sh --print-runtime) \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /var/lib/sirt --create-home sirt
COPY --from=build /src/bot/sirtbot /usr/local/bin/sirtbot
COPY sirt.example.json /etc/sirt/sirt.example.json
USER sirt
WORKDIR /var/lib/sirt
ENV SIRT_CONFIG=/etc/sirt/sirt.json \
    SIRT_DB=/var/lib/sirt/sirt.db \
    SIRT_HTTP=0.0.0.0:9102
EXPOSE 9102
# Probes the host:port of SIRT_HTTP as the container runs it (0.0.0.0 or *
# means "every address": ask 127.0.0.1); unhealthy when SIRT_HTTP is unset.
# /healthz = /readyz: connected to Slack with a working store.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD [ -n "$SIRT_HTTP" ] || exit 1; h="${SIRT_HTTP%:*}"; p="${SIRT_HTTP##*:}"; \
      case "$h" in ""|0.0.0.0|"*") h=127.0.0.1 ;; esac; \
      curl -fsS --max-time 2 "http://$h:$p/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/sirtbot"]
