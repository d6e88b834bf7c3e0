# flickd on Debian 12, built from this tree with Debian's packages.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential pkg-config libevent-dev libpq-dev libhiredis-dev libjansson-dev \
      libsodium-dev libcurl4-openssl-dev libwebp-dev libavformat-dev libavcodec-dev \
      libavutil-dev libswscale-dev libfreetype-dev libunistring-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make -j"$(nproc)" build/flickd

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libpq5 libhiredis0.14 libjansson4 libsodium23 \
      libcurl4 libwebp7 libwebpmux3 libwebpdemux2 libavformat59 libavcodec59 libavutil57 \
      libswscale6 libfreetype6 libunistring2 fonts-dejavu-core ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/flick flick \
    && mkdir -p /var/lib/flick && chown flick /var/lib/flick
COPY --from=build /src/build/flickd /usr/local/bin/flickd
COPY migrations /usr/share/flick/migrations
COPY web /usr/share/flick/web
ENV FLICK_MIGRATIONS_DIR=/usr/share/flick/migrations FLICK_WEB_DIR=/usr/share/flick/web \
    FLICK_DATA_DIR=/var/lib/flick/data \
    FLICK_LISTEN=0.0.0.0:8080
USER flick
EXPOSE 8080
ENTRYPOINT ["flickd"]
CMD ["all"]
