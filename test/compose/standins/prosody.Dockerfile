# Stand-in for prosodyim/prosody:13.0 (prosody/prosody-docker): the same package list, paths and
# entrypoint behaviour, with Prosody 13.0.1 from Debian's bookworm-backports instead of prosody.im's
# trixie package. The backports source is derived from the image's own Debian source.
FROM debian:bookworm-slim
RUN awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
      | sed 's/^Suites: .*/Suites: bookworm-backports/' > /etc/apt/sources.list.d/backports.sources \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tini prosody/bookworm-backports lua5.4 ca-certificates dns-root-data lua-unbound lua-sec \
      lua-readline lua-dbi-sqlite3 lua-dbi-postgresql lua-dbi-mysql luarocks liblua5.4-dev \
      libjs-bootstrap4 libjs-jquery \
 && update-alternatives --set lua-interpreter /usr/bin/lua5.4 \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /etc/prosody/conf.d /var/run/prosody \
 && chown prosody:prosody /etc/prosody/conf.d /var/run/prosody
COPY prosody-entrypoint.sh /entrypoint.sh
RUN chmod 755 /entrypoint.sh
ENTRYPOINT ["/usr/bin/tini", "--", "/entrypoint.sh"]
EXPOSE 80 443 5222 5269 5347 5280 5281
ENV __FLUSH_LOG=yes
CMD ["prosody", "-F"]
