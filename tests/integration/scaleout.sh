#!/usr/bin/env bash
# Scale-out: three sprovd nodes on 127.0.0.2, .3 and .4 sharing one
# PostgreSQL store (a server of the test's own, in $T, run as an
# unprivileged user), one server certificate for the shared name, dnsmasq
# answering that name with the three addresses, and sprov-agent phones
# that resolve it and try its addresses in order, as Cisco phones do.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROVD:?}" "${SPROV_STORECTL:?}" "${SPROVCTL:?}" "${SPROV_AGENT:?}"
. "$TESTLIB/pg.sh"
. "$TESTLIB/dns.sh"
CA="$SPROV_CA -d ca"
NAME=pv.fleet.test
NDEV=24

if ! pg_start "$T" 2>pgwhy.txt; then
	skip "scale-out on PostgreSQL" "no PostgreSQL server here: \
$(tr '\n' ' ' < pgwhy.txt)"
	done_testing
	exit
fi
trap 'kill $(jobs -p) 2>/dev/null; pg_stop immediate; [ -n "${KEEP:-}" ] ||
    rm -rf "$T"' EXIT
ST="$SPROV_STORECTL $PG_URL"

# One CA, one server certificate for the name every node answers for.
$CA init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout srv.key -out srv.csr -subj "/CN=$NAME" 2>/dev/null
chmod 600 srv.key
$CA sign-server srv.csr -o srv.crt >/dev/null 2>&1
awk -v n=$NDEV 'BEGIN { print "mac,serial,model"; for (i = 1; i <= n; i++)
    printf "02:bb:00:00:00:%02x,SN%04d,CP-8841-3PCC\n", i, i }' > devs.csv
$CA issue-devices --csv devs.csv -o ids -q >/dev/null
$CA issue-admin ops -o adm >/dev/null
$CA crl -o device.crl >/dev/null
cp device.crl crl-number-1.crl
check "PKI: one server certificate for $NAME, $NDEV devices" \
    test -s srv.crt -a "$(ls ids/*/*.crt | wc -l)" = $NDEV
# issue-devices shards its output by the MAC's last byte.
idf() { echo "ids/${1:10:2}/$1"; }
mapfile -t MACS < <(awk -F, 'NR > 1 { m = $1; gsub(":", "", m); print m }' \
    devs.csv)
awk -F, 'NR > 1 { m = $1; gsub(":", "", m)
    printf "device\t%s\t%s\t%s\n", m, $3, $2
    printf "param\tdevice:%s\tStation_Name\tphone-%s\n", m, m }
    END { printf "param\tdefault\tProxy_1_\tsip.example.net\n" }' devs.csv \
    > fleet.tsv
check "fleet loaded into PostgreSQL" $ST bulk fleet.tsv
check "schema made in PostgreSQL" test "$(pg_psql \
    'SELECT version FROM schema_version')" = 2

# The CRL the nodes share lives in the store: put by the first node's
# admin API (crl store), checked there against the device CA.
node_conf() {	# tag addr
	cat > $1.conf <<CONF
listen $2:$PORT
listen_report $T/$1.listen
admin_listen $2:$APORT
admin_ca $T/ca/admin-ca.crt
cert $T/srv.crt
key $T/srv.key
client_ca $T/ca/device-ca.crt
crl store
ticket_keys store
store $PG_URL
workers 2
timeout_handshake 5
CONF
}
node_start() {	# tag
	rm -f $1.listen
	$SPROVD -d -f $1.conf 2>>$1.log &
	eval "PID_$1=$!"
	for i in $(seq 1 100); do [ -s $1.listen ] && break; sleep 0.05; done
	test -s $1.listen
}
PORT=$((20000 + RANDOM % 10000))
APORT=$((PORT + 1))
node_conf a 127.0.0.2
node_conf b 127.0.0.3
node_conf c 127.0.0.4
# C serves cached profiles for 1 s only while the database is away.
echo "store_grace 1" >> c.conf
# Rendered profiles are cached per worker: with one worker on A, the
# profile fetched before the outage is the one the outage check finds.
sed -i 's/^workers 2$/workers 1/' a.conf
ctl() {	# addr args...
	local a=$1; shift
	$SPROVCTL -u "https://$NAME:$APORT" --cert adm/ops.crt \
	    --key adm/ops.key --cacert ca/server-ca.crt \
	    --resolve "$NAME:$APORT:$a" "$@"
}

refuse "a node refuses to start while the store holds no CRL" 1 \
    "sprovd -f CONF -C FILE" $SPROVD -d -f a.conf
echo "not a CRL" > junk.crl
refuse "sprovd -C: a file that is no CRL is refused" 1 "not a PEM CRL" \
    $SPROVD -f a.conf -C junk.crl
$SPROV_CA -d other init >/dev/null
$SPROV_CA -d other crl -o other.crl >/dev/null
refuse "sprovd -C: a CRL of another CA is refused" 1 \
    "not signed by a client CA" $SPROVD -f a.conf -C other.crl
check "sprovd -C: the device CA's CRL is stored" $SPROVD -f a.conf \
    -C device.crl

check "node A starts on 127.0.0.2" node_start a
check "node B starts on 127.0.0.3" node_start b
check "node C starts on 127.0.0.4" node_start c
has "node A took the CRL from the store" a.log "from the store: the CRL"
has "node A took the ticket keys from the store" a.log \
    "from the store: the ticket keys"

get() {		# addr mac path [curl options]
	local a=$1 m=$2 p=$3; shift 3
	curl -sS --max-time 10 --cacert ca/server-ca.crt \
	    --cert $(idf $m).crt --key $(idf $m).key \
	    --resolve "$NAME:$PORT:$a" "$@" "https://$NAME:$PORT$p"
}
code() { get "$@" -o /dev/null -w '%{http_code}' 2>/dev/null; }
M=${MACS[0]}
own() { get $1 $M /prov/$M.xml | grep -q "phone-$M"; }
for a in 127.0.0.2 127.0.0.3 127.0.0.4; do
	check "node $a serves the device its own profile" own $a
done

# A change made on A is in effect on C within one second.
within() {	# seconds cmd...: how long until cmd succeeds (ms), or fails
	local limit=$1 start now; shift
	start=$(date +%s%N)
	while :; do
		"$@" >/dev/null 2>&1 && break
		now=$(date +%s%N)
		[ $(( (now - start) / 1000000 )) -gt $((limit * 1000)) ] &&
		    return 1
		sleep 0.02
	done
	echo $(( ($(date +%s%N) - start) / 1000000 ))
}
served() { get 127.0.0.4 $M /prov/$M.xml | grep -q "$1"; }
code_is() { test "$(code 127.0.0.4 $M /prov/$M.xml)" = "$1"; }
get 127.0.0.4 $M /prov/$M.xml >/dev/null	# C has it cached now
ctl 127.0.0.2 param set --device $M Station_Name changed-on-A >/dev/null
ms=$(within 1 served changed-on-A)
check "a parameter set on A is served by C within 1 s (${ms:-never} ms)" \
    test -n "$ms"
ctl 127.0.0.2 device quarantine $M >/dev/null
ms=$(within 1 code_is 403)
check "a quarantine on A refuses on C within 1 s (${ms:-never} ms)" \
    test -n "$ms"
ctl 127.0.0.3 device activate $M >/dev/null
ms=$(within 1 code_is 200)
check "activation on B serves on C again within 1 s (${ms:-never} ms)" \
    test -n "$ms"
D=${MACS[1]}
get 127.0.0.4 $D /prov/$D.xml >/dev/null
ctl 127.0.0.2 device delete $D >/dev/null
gone() { test "$(code 127.0.0.4 $D /prov/$D.xml)" = 403; }
ms=$(within 1 gone)
check "a deletion on A refuses on C within 1 s (${ms:-never} ms)" \
    test -n "$ms"
$ST device $D CP-8841-3PCC SN0002 >/dev/null
$ST param device:$D Station_Name phone-$D >/dev/null

# A TLS session made on A resumes on C (ticket keys from the store).
sess() {	# addr in|out file
	openssl s_client -connect $1:$PORT -servername $NAME \
	    -CAfile ca/server-ca.crt -cert $(idf $M).crt -key $(idf $M).key \
	    -sess_$2 $3 -tls1_3 </dev/null 2>&1
}
printf 'GET /prov/%s.xml HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' \
    $M $NAME > req.txt
openssl s_client -connect 127.0.0.2:$PORT -servername $NAME \
    -CAfile ca/server-ca.crt -cert $(idf $M).crt -key $(idf $M).key \
    -sess_out sess.pem -tls1_3 -ign_eof < req.txt > s1.txt 2>&1
check "a session made on A" test -s sess.pem
sess 127.0.0.4 in sess.pem > s2.txt
has "the session made on A resumes on C" s2.txt "Reused, TLSv1.3"
ctl 127.0.0.2 ticket-keys rotate > rot.json
has "ticket keys rotated through A" rot.json '"rotated": true'
sleep 1.2
sess 127.0.0.3 in sess.pem > s3.txt
has "after a rotation the older ticket still resumes on B" s3.txt \
    "Reused, TLSv1.3"
openssl s_client -connect 127.0.0.3:$PORT -servername $NAME \
    -CAfile ca/server-ca.crt -cert $(idf $M).crt -key $(idf $M).key \
    -sess_out sess2.pem -tls1_3 -ign_eof < req.txt > s4.txt 2>&1
sess 127.0.0.2 in sess2.pem > s5.txt
has "a ticket of the new key made on B resumes on A" s5.txt \
    "Reused, TLSv1.3"

# A revocation reaches every node without a restart.
R=${MACS[2]}
check "a revoked device is served before" test "$(code 127.0.0.4 $R \
    /prov/$R.xml)" = 200
$CA revoke --mac $R >/dev/null
$CA crl -o device.crl >/dev/null
check "the new CRL put through B" ctl 127.0.0.3 crl put device.crl
rev() { test "$(code 127.0.0.4 $R /prov/$R.xml)" = 000; }
ms=$(within 3 rev)
check "the revoked device is refused by C without a restart (${ms:-never} ms)" \
    test -n "$ms"
check "node C was not restarted" kill -0 $PID_c
refuse "crl put: an older CRL (a replay that would un-revoke) is refused" 1 \
    "older than the one in use" ctl 127.0.0.2 crl put crl-number-1.crl
refuse "crl put: a CRL of another CA is refused by the admin API" 1 \
    "not signed by a client CA" ctl 127.0.0.2 crl put other.crl
refuse "crl put: a file that is no CRL is refused by the admin API" 1 \
    "not a PEM CRL" ctl 127.0.0.2 crl put junk.crl
# A CRL of another CA written into the database directly (not through a
# node): every node checks it and keeps the one it has.
pg_psql "UPDATE blobs SET version = version + 1, body = decode('$(base64 \
    -w0 other.crl)', 'base64') WHERE name = 'crl';
    SELECT pg_notify('sprov_changes', 'blob:crl')" >/dev/null
refused_blob() { grep -q "from the store, refused.*not signed by a client CA" \
    c.log; }
ms=$(within 3 refused_blob)
check "a foreign CRL written into the database is refused by C (${ms:-never} ms)" \
    test -n "$ms"
check "... and the revoked device stays refused" rev
ok200() { test "$(code $1 $2 /prov/$2.xml)" = 200; }
check "... and the others are served" ok200 127.0.0.4 ${MACS[3]}
$CA crl -o device.crl >/dev/null
ctl 127.0.0.2 crl put device.crl >/dev/null
v2() { ctl 127.0.0.4 crl show | grep -q '"version": 4'; }
check "crl show: the version moved with each put" v2

# Phones: each an agent resolving $NAME through dnsmasq, which answers
# B first, then A and C.
dns_start --local=/fleet.test/ --host-record=$NAME,127.0.0.3 \
    --host-record=$NAME,127.0.0.2 --host-record=$NAME,127.0.0.4
check "dnsmasq answers $NAME with three addresses" kill -0 $DNSPID
SPARE=${MACS[$((NDEV - 1))]}
n=0
for m in "${MACS[@]}"; do
	[ $m = $R ] && continue
	[ $m = $SPARE ] && continue	# never fetched: nobody has it cached
	$SPROV_AGENT -s ph/$m init --cert $(idf $m).crt --key $(idf $m).key \
	    --server-ca ca/server-ca.crt >/dev/null 2>&1 || continue
	$SPROV_AGENT -s ph/$m set Primary_DNS 127.0.0.1:$DP
	$SPROV_AGENT -s ph/$m set Profile_Rule "https://$NAME:$PORT/prov/\$MA.xml"
	n=$((n + 1))
done
check "$n agents set up" test $n = $((NDEV - 2))
PHONES=$(ls ph)

# storm LOG: every phone resyncs, 8 at a time, round after round until
# the file stop exists; one line "mac exit" per attempt in LOG.
storm() {
	local m
	while [ ! -e stop ]; do
		for m in $PHONES; do
			echo "$m"
		done | xargs -P 8 -I{} sh -c '"$0" -s ph/{} resync \
		    >/dev/null 2>>agent-err.txt; echo "{} $?"' \
		    "$SPROV_AGENT" >> "$1"
	done
}
: > storm1.txt
rm -f stop
storm storm1.txt &
SPID=$!
sleep 1.5
echo KILL >> storm1.txt
kill -9 $PID_b
sleep 2
touch stop
wait $SPID
fails=$(awk '$2 == 1' storm1.txt | wc -l)
total=$(grep -vc KILL storm1.txt)
afterkill=$(sed -n '/^KILL$/,$p' storm1.txt | grep -vc KILL)
check "node B killed mid-storm: $total resyncs ($afterkill after the \
kill), $fails failed" test "$fails" = 0 -a "$afterkill" -gt 0 -a \
    "$total" -gt "$afterkill"
check "node B is gone" sh -c "! kill -0 $PID_b 2>/dev/null"
check "node B served phones before it was killed" grep -q ' GET ' b.log
ok=0
for m in $PHONES; do
	want=phone-$m
	[ $m = $M ] && want=changed-on-A
	$SPROV_AGENT -s ph/$m resync >/dev/null 2>&1
	[ "$($SPROV_AGENT -s ph/$m get Station_Name)" = "$want" ] &&
	    ok=$((ok + 1))
done
check "every phone holds its own profile at the end ($ok/$n)" test $ok = $n
check "node B starts again" node_start b

# Reports during a PostgreSQL restart: every report a node acknowledged
# (the agent exits 0 only on a 2xx) is in the database afterwards.
: > reports.txt
before=$(pg_psql 'SELECT count(*) FROM reports')
rm -f stop
(while [ ! -e stop ]; do for m in $PHONES; do echo $m; done |
    xargs -P 6 -I{} sh -c '"$0" -s ph/{} report \
    "https://'$NAME:$PORT'/report/\$MA.xml" >/dev/null 2>>report-err.txt;
    echo "{} $?"' "$SPROV_AGENT" >> reports.txt; done) &
RPID=$!
# The database goes away once reports are being acknowledged, for 2 s;
# the phones go on reporting until 3 s after it is back.
within 10 grep -q ' 0$' reports.txt >/dev/null
get 127.0.0.2 $M /prov/$M.xml >/dev/null	# cached on A and on C
get 127.0.0.4 $M /prov/$M.xml >/dev/null
pg_restart_after 2 fast
sleep 0.5
check "database away: A serves a profile it has cached" \
    test "$(code 127.0.0.2 $M /prov/$M.xml)" = 200
get 127.0.0.2 $SPARE /prov/$SPARE.xml -D spare.h -o /dev/null 2>/dev/null
has "database away: a profile A has not cached is 503" spare.h " 503"
has "... with Retry-After" spare.h "Retry-After:"
sleep 1
check "database away past store_grace (1 s on C): C refuses even cached" \
    test "$(code 127.0.0.4 $M /prov/$M.xml)" = 503
wait $PG_RESTART_PID
echo BACK >> reports.txt
sleep 3
touch stop
wait $RPID
acked=$(awk '$2 == 0' reports.txt | wc -l)
back=$(sed -n '/^BACK$/,$p' reports.txt | awk '$2 == 0' | wc -l)
refused=$(awk '$2 != 0' reports.txt | wc -l)
after=$(pg_psql 'SELECT count(*) FROM reports')
check "PostgreSQL restarted mid-storm: $acked reports acknowledged, \
$refused refused, $((after - before)) stored" test $((after - before)) -ge \
    "$acked" -a "$acked" -gt 0
check "reports are acknowledged again once the database is back ($back)" \
    test "$back" -gt 0
[ "$acked" -gt 0 ] || sort report-err.txt | uniq -c | head -5 | sed 's/^/# /'
check "some reports were refused while the database was away" \
    test "$refused" -gt 0
has "a node said the store was unreachable" a.log "store unreachable"
ms=$(within 10 served changed-on-A)
check "nodes serve again after the restart" test -n "$ms"
check "the audit chain written by three nodes verifies" \
    ctl 127.0.0.2 audit verify
# Privilege separation with a PostgreSQL store: the server process sees
# no directory of the store at all (TCP), runs as nobody.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	node_conf d 127.0.0.5
	echo "user nobody" >> d.conf
	check "node D (privilege separation, user nobody) starts" node_start d
	sleep 0.5
	dserves() { get 127.0.0.5 $M /prov/$M.xml | grep -q changed-on-A; }
	check "node D serves from PostgreSQL inside its empty view" dserves
	kid=$(pgrep -P "$PID_d" | head -1)
	check "node D's server process runs as nobody" test \
	    "$(stat -c %U /proc/$kid 2>/dev/null)" = nobody
	kill $PID_d; wait $PID_d 2>/dev/null
else
	skip "privilege separation with PostgreSQL" "needs root and a user nobody"
fi
for t in a b c; do
	eval "p=\$PID_$t"
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
kill $DNSPID 2>/dev/null
check "no sanitizer report from any node" sh -c \
    "! grep -l 'Sanitizer\|runtime error' a.log b.log c.log"
done_testing
