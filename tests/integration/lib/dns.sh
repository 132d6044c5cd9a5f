# dns_start DNSMASQ-ARGS...: dnsmasq on a free loopback port (127.0.0.1),
# answering only what the arguments say; sets DP (the port) and DNSPID.
# The caller kills $DNSPID on exit.
dns_start() {
	local try
	for try in 1 2 3 4 5; do
		DP=$((20000 + RANDOM % 12000))
		dnsmasq --keep-in-foreground --port=$DP \
		    --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
		    --no-hosts --user="$(id -un)" --pid-file= \
		    --log-facility=- "$@" 2>>dnsmasq.log &
		DNSPID=$!
		sleep 0.3
		kill -0 $DNSPID 2>/dev/null && return 0
	done
	return 1
}
