#!/bin/bash
# Stops the processes still running inside the namespaces of scripts/netns_up.sh (only those, by
# PID) and deletes the namespaces; their veths and addresses go with them.
P=${NS_PREFIX:-tp-}
for ns in lan nat wan; do
  for p in $(ip netns pids $P$ns 2>/dev/null); do kill $p 2>/dev/null; done
done
for ns in lan nat wan; do
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(ip netns pids $P$ns 2>/dev/null)" ] && break; sleep 0.1; done
  for p in $(ip netns pids $P$ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
  ip netns del $P$ns 2>/dev/null
done
true
