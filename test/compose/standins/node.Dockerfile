# Stand-in for node:24-bookworm-slim: the Node.js 24 the tests run on (.ci/run) under /usr/local, a `node` user
# with uid/gid 1000, as in the official image.
FROM debian:bookworm-slim
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY usr/local /usr/local
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && { [ ! -d /usr/local/lib/node_modules/corepack ] || ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; } \
 && node --version | grep -q '^v24\.' && npm --version
CMD ["node"]
