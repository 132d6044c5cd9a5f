#!/usr/bin/env bash
# sprov-bench smoke run (the benchmark itself is bench/run, not a test):
# a small fleet against sprovd, every mode, asserting only correctness:
# every answer is the right profile for the right device, resumed sessions
# do resume, a storm ends with every phone provisioned, and the checks
# that guard those figures do catch a wrong profile and a wrong server.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROVD:?}" "${SPROV_STORECTL:?}"
BENCH=${SPROV_BENCH:-$(dirname "$SPROV_CA")/sprov-bench}
CA="$SPROV_CA -d ca"
NAME=prov.bench.test
DB=sqlite:$T/var/sprov.db

$CA init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout srv.key -out srv.csr -subj "/CN=$NAME" 2>/dev/null
chmod 600 srv.key
$CA sign-server srv.csr -o srv.crt >/dev/null 2>&1
awk 'BEGIN { print "mac,serial,model"; for (i = 1; i <= 60; i++)
    printf "02:aa:00:00:00:%02x,SN%04d,CP-8841-3PCC\n", i, i }' > devs.csv
$CA issue-devices --csv devs.csv -o ids -q >/dev/null
$CA crl >/dev/null
mkdir -p var
awk -F, 'NR > 1 { m = $1; gsub(":", "", m)
    printf "device\t%s\t%s\t%s\n", m, $3, $2
    printf "param\tdevice:%s\tStation_Name\t%s\n", m, m }
    END { printf "param\tdefault\tProxy_1_\tsip.example.net\n" }' devs.csv > fleet.tsv
check "fleet loaded in one transaction (storectl bulk)" \
    "$SPROV_STORECTL" "$DB" bulk fleet.tsv
printf 'device\t020000000001\n' > bad.tsv
refuse "bulk: a malformed line is refused with its line number" 1 \
    "bad.tsv:1:" "$SPROV_STORECTL" "$DB" bulk bad.tsv
cat > sprovd.conf <<CONF
listen 127.0.0.1:0
listen_report $T/listen.txt
cert $T/srv.crt
key $T/srv.key
client_ca $T/ca/device-ca.crt
crl $T/ca/crl/device-ca.crl
store $DB
workers 2
CONF
$SPROVD -d -f sprovd.conf 2>sprovd.log &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT
for i in $(seq 1 100); do [ -s listen.txt ] && break; sleep 0.05; done
PORT=$(sed 's/.*://' listen.txt)

run() {	# run NAME ARGS...: sprov-bench output in $T/b.out
	"$BENCH" --ids ids --server-ca ca/server-ca.crt \
	    --connect "127.0.0.1:$PORT" --name "$NAME" --server-pid "$PID" \
	    --check "$@" >b.out 2>&1
}
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" b.out; }

run -r 200 -c 16 --tls 1.3
check "full handshakes, TLS 1.3: 200 requests, each its device's profile" \
    test "$(val ok)" = 200 -a "$(val failed)" = 0
check "the server's CPU time is read from the kernel" \
    awk -v c="$(val server_cpu_s)" 'BEGIN { exit !(c > 0) }'
run -r 120 -c 8 --tls 1.2
check "full handshakes, TLS 1.2: every profile right" \
    test "$(val ok)" = 120 -a "$(val failed)" = 0
run -r 150 -c 8 --mode resume
check "resume: every measured request resumed its phone's session" \
    test "$(val ok)" = 150 -a "$(val resumed)" = 150 -a "$(val failed)" = 0
run -r 150 -c 8 --mode resume --tls 1.2
check "resume, TLS 1.2: every measured request resumed" \
    test "$(val ok)" = 150 -a "$(val resumed)" = 150
run -r 300 -c 4 --mode keepalive
check "keep-alive: 300 requests on few connections, every profile right" \
    test "$(val ok)" = 300 -a "$(val failed)" = 0
run --mode storm --window 0.2 --random-delay 0.1 --retry-scale 600 -c 100
check "storm: every phone provisioned, none left" \
    test "$(val done)" = 60 -a "$(val never)" = 0
has "storm: the summary says so" b.out "60 of 60 phones provisioned"

# The guards: a wrong profile, another device's path, another server name.
"$SPROV_STORECTL" "$DB" param device:02aa00000007 Station_Name someone-else
kill -HUP "$PID"; sleep 0.3
run -r 60 -c 4
check "--check catches the one device whose profile lacks its identity" \
    grep -q "1 x wrong profile (not this device's)" b.out
check "... and the run exits non-zero" test "$(val failed)" = 1
"$SPROV_STORECTL" "$DB" param device:02aa00000007 Station_Name 02aa00000007
run -r 20 -c 4 --path /prov/02aa00000001.xml
check "a phone asking for another device's profile: 403, counted as failed" \
    grep -q "x HTTP 403" b.out
refuse "the server's name is checked as the agent checks it" 1 \
    "server certificate names another server" \
    "$BENCH" --ids ids --server-ca ca/server-ca.crt --connect \
    "127.0.0.1:$PORT" --name other.bench.test -r 5 -c 1
refuse "a server not under the trusted CA is refused" 1 \
    "server certificate not trusted" \
    "$BENCH" --ids ids --server-ca ca/device-ca.crt --connect \
    "127.0.0.1:$PORT" --name "$NAME" -r 5 -c 1
refuse "no identities: a clear error" 1 "no device identity" \
    "$BENCH" --ids var --server-ca ca/server-ca.crt --connect \
    "127.0.0.1:$PORT" --name "$NAME" -r 5
k=$(find ids -name '02aa00000003.key')
chmod 644 "$k"
refuse "a phone key readable by others is refused, naming it" 1 \
    "02aa00000003.key: secret file is accessible by group/others" \
    "$BENCH" --ids ids --server-ca ca/server-ca.crt --connect \
    "127.0.0.1:$PORT" --name "$NAME" -r 5
chmod 600 "$k"
refuse "a bad option value is named" 1 "--tls 1.1: 1.2 or 1.3" \
    "$BENCH" --ids ids --server-ca ca/server-ca.crt --connect \
    "127.0.0.1:$PORT" --name "$NAME" --tls 1.1

# Bounded handshakes (max_handshakes) and encrypted tickets (session_cache 0).
kill "$PID"; wait "$PID" 2>/dev/null
printf 'max_handshakes 16\nsession_cache 0\n' >> sprovd.conf
rm -f listen.txt
$SPROVD -d -f sprovd.conf 2>>sprovd.log &
PID=$!
for i in $(seq 1 100); do [ -s listen.txt ] && break; sleep 0.05; done
PORT=$(sed 's/.*://' listen.txt)
run --mode storm --window 0 --random-delay 0 --retry-scale 600 -c 60
check "max_handshakes 16, 60 phones at once: all provisioned, none refused" \
    test "$(val done)" = 60 -a "$(val retries)" = 0
run -r 100 -c 8 --mode resume
check "session_cache 0: sessions resume through encrypted tickets" \
    test "$(val ok)" = 100 -a "$(val resumed)" = 100
done_testing
