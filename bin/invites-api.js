#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=64
// Bounds V8's heap: the live heap is ~12 MB, but left alone V8 lets garbage grow the heap to
// ~140 MB RSS under a flood before collecting; with these flags the peak stays near 90 MB
// (BENCHMARKS.md). `node bin/invites-api.js` runs without them, which is fine for tests.
import "../dist/main.js";
