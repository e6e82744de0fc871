#!/bin/bash
# Creates a home-router network in three namespaces; every address exists ONLY inside them:
#   ${P}lan (N.1.2) --veth-- ${P}nat (N.1.1 | N.2.1, MASQUERADE) --veth-- ${P}wan (N.2.2 [+ N.2.3])
# Environment:
#   NS_PREFIX  namespace name prefix (default "tp-"); give every test run its own
#   NET        the first two octets (default 10.201), so N.1.2 is 10.201.1.2
#   ALT_IP=1   adds N.2.3 in wan (a second STUN address for RFC 5780 behaviour discovery)
#   SYMMETRIC=1  MASQUERADE --random-fully: a new public port per destination (a symmetric NAT)
# Remove everything with scripts/netns_down.sh (same NS_PREFIX).
set -e
P=${NS_PREFIX:-tp-}
N=${NET:-10.201}
for ns in lan nat wan; do ip netns add $P$ns; ip -n $P$ns link set lo up; done
ip link add lan0 netns ${P}lan type veth peer name nat-lan netns ${P}nat
ip link add wan0 netns ${P}wan type veth peer name nat-wan netns ${P}nat
ip -n ${P}lan addr add $N.1.2/24 dev lan0;    ip -n ${P}lan link set lan0 up
ip -n ${P}nat addr add $N.1.1/24 dev nat-lan; ip -n ${P}nat link set nat-lan up
ip -n ${P}nat addr add $N.2.1/24 dev nat-wan; ip -n ${P}nat link set nat-wan up
ip -n ${P}wan addr add $N.2.2/24 dev wan0;    ip -n ${P}wan link set wan0 up
if [ "${ALT_IP:-0}" = 1 ]; then ip -n ${P}wan addr add $N.2.3/24 dev wan0; fi
ip -n ${P}lan route add default via $N.1.1
ip netns exec ${P}nat sysctl -qw net.ipv4.ip_forward=1
if [ "${SYMMETRIC:-0}" = 1 ]; then
  ip netns exec ${P}nat iptables -t nat -A POSTROUTING -o nat-wan -j MASQUERADE --random-fully
else
  ip netns exec ${P}nat iptables -t nat -A POSTROUTING -o nat-wan -j MASQUERADE
fi
# Forward only lan->wan plus replies (like a home router): wan cannot reach lan unasked.
ip netns exec ${P}nat iptables -P FORWARD DROP
ip netns exec ${P}nat iptables -A FORWARD -i nat-lan -o nat-wan -j ACCEPT
ip netns exec ${P}nat iptables -A FORWARD -i nat-wan -o nat-lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
# Unasked packets from wan to the router itself are dropped before conntrack confirms them (as a
# home router's firewall does): a confirmed UNREPLIED entry for a far end's early RTP would make
# MASQUERADE move our flow to another public port when we then send to that far end.
ip netns exec ${P}nat iptables -A INPUT -i nat-wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip netns exec ${P}nat iptables -A INPUT -i nat-wan -j DROP
echo "netns up: ${P}lan=$N.1.2 ${P}nat=$N.1.1/$N.2.1 ${P}wan=$N.2.2$([ "${ALT_IP:-0}" = 1 ] && echo ",$N.2.3")"
