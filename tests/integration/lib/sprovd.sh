# Helpers for tests that run sprovd: sourced after tap.sh, with $SPROVD,
# $NAME (the server's name) and a sprovd.conf whose listen_report is
# $T/listen.txt.

# sprovd_start: starts sprovd in the foreground (log appended to
# sprovd.log), waits for its bound addresses; sets PID, LISTENS (the ports,
# in listen.txt's order) and PORT (the first).
sprovd_start() {
	rm -f listen.txt
	$SPROVD -d -f sprovd.conf 2>>sprovd.log &
	PID=$!
	for i in $(seq 1 100); do
		[ -s listen.txt ] && break
		sleep 0.05
	done
	mapfile -t LISTENS < <(sed 's/.*://' listen.txt 2>/dev/null)
	PORT=${LISTENS[0]:-}
}
stop() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}
get() {		# device-or-cert-base url-path [curl options]
	local who=$1 path=$2; shift 2
	local c=()
	[ -n "$who" ] && c=(--cert "$who.crt" --key "$who.key")
	curl -sS --max-time 10 --cacert ca/server-ca.crt "${c[@]}" \
	    --resolve "$NAME:$PORT:127.0.0.1" "$@" \
	    "https://$NAME:$PORT$path"
}
code() {	# like get, prints the status code only
	get "$@" -o /dev/null -w '%{http_code}' 2>/dev/null
}
