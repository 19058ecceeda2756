#!/usr/bin/env bash
# Benchmark of `mailseal agent` (DESIGN.md §7: >= 300 messages/s sealed and
# queued, 4 KB messages, 50 concurrent clients), against a release build.
#
#   benches/agent.sh                      # 50 clients x 40 messages of 4 KB
#   CLIENTS=10 MESSAGES=20 benches/agent.sh
#
# Phase 1 measures sealing and queueing alone (the relay accepts connections
# and never answers, so every message stays queued); phase 2 measures
# end-to-end delivery to an in-process STARTTLS relay. Both report msg/s and the p50/p99 latency of
# the 250 reply. See examples/agent_bench.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin mailseal --example agent_bench
# With RUST_BACKTRACE set, every error value sequoia creates internally
# captures a backtrace (about 5% of the agent's CPU); users do not run so.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
uptime
MAILSEAL_BIN=$PWD/target/release/mailseal exec target/release/examples/agent_bench
