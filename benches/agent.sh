#!/usr/bin/env bash
# Benchmark of `mailseal agent` (DESIGN.md §7: >= 300 messages/s sealed and
# queued, 4 KB messages, 50 concurrent clients), against a release build.
#
#   benches/agent.sh                      # 50 clients x 40 messages of 4 KB
#   CLIENTS=10 MESSAGES=20 benches/agent.sh
#   CLIENTS=20 MESSAGES=1 SIZE=24000000 END_TO_END=0 benches/agent.sh   # memory
#
# Phase 1 measures sealing and queueing alone (the relay accepts connections
# and never answers, so every message stays queued); phase 2 measures
# end-to-end delivery to an in-process STARTTLS relay. Both report msg/s,
# the p50/p99 latency of the 250 reply and the agent's peak memory. See
# examples/agent_bench.rs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_build --bin mailseal --example agent_bench
uptime
MAILSEAL_BIN=$ms exec "$bin/examples/agent_bench"
