#!/usr/bin/env bash
# sprovd under hostile input.  Each case asserts the exact outcome (status,
# or how the connection ended), that the server still serves a legitimate
# phone afterwards, and that nothing stored changed (the store's fingerprint
# of devices, parameters, reports is compared before and after).  More
# hostile HTTP (pipelining, 431, duplicate Content-Length, chunked, bare LF,
# 408, EMFILE, admission control) is in sprovd.sh.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROVD:?}" "${SPROV_STORECTL:?}" "${SPROVCTL:?}"
TOOLS=$(dirname "$SPROV_STORECTL")
HOSTILE=$TOOLS/hostile
CA="$SPROV_CA -d ca"
DB="sqlite:$T/var/sprov.db"
ST="$SPROV_STORECTL $DB"
NAME=prov.sprov.test
M1=000e08000001
M2=000e08000002

$CA init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout srv.key -out srv.csr -subj "/CN=$NAME" 2>/dev/null
chmod 600 srv.key
$CA sign-server srv.csr -o srv.crt 2>/dev/null
for m in $M1 $M2; do
	$CA issue-device --mac $m --serial SN$m --model CP-8841-3PCC -o dev \
	    >/dev/null
done
$CA crl >/dev/null
$CA issue-admin ops -o adm >/dev/null
mkdir -p var
$ST device $M1 CP-8841-3PCC SN$M1 >/dev/null
$ST device $M2 CP-8841-3PCC SN$M2 >/dev/null
$ST param default Proxy_1_ sip.example.net
$ST param device:$M1 Password_1_ 's3cr&t' na

write_conf() {	# extra lines on stdin
	cat > sprovd.conf <<CONF
listen 127.0.0.1:0
listen_report $T/listen.txt
cert $T/srv.crt
key $T/srv.key
client_ca $T/ca/device-ca.crt
crl $T/ca/crl/device-ca.crl
store $DB
workers 2
timeout_handshake 4
timeout_request 3
max_header 4096
max_report 65536
admin_listen 127.0.0.1:0
admin_ca $T/ca/admin-ca.crt
CONF
	cat >> sprovd.conf
}
. "$TESTLIB/sprovd.sh"
start() { sprovd_start; APORT=${LISTENS[1]:-}; }
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
served() {	# a legitimate phone gets its profile
	test "$(code dev/$M1 /prov/$M1.xml)" = 200
}
raw() {		# stdin as the request (device 1), the response on stdout
	timeout 8 openssl s_client -quiet -connect 127.0.0.1:$PORT \
	    -servername $NAME -cert dev/$M1.crt -key dev/$M1.key \
	    -CAfile ca/server-ca.crt 2>/dev/null
}
status() {	# the status code of the first response in a file
	sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$1"
}
# What a phone or an operator could have changed: devices (without the
# last-seen columns, which legitimate requests update), parameters,
# groups, reports.
fingerprint() {
	local out
	out=$(sqlite3 -bail "$T/var/sprov.db" "SELECT mac, serial, model, state
	    FROM devices ORDER BY mac; SELECT * FROM params ORDER BY 1, 2;
	    SELECT * FROM device_groups ORDER BY 1, 2;
	    SELECT id, mac, time, kind, hex(body) FROM reports ORDER BY id;") ||
	    { echo "fingerprint: cannot read the store" >&2; return 1; }
	printf '%s' "$out" | sha256sum
}
rss() { awk '/^VmRSS/ { print $2 }' /proc/$PID/status; }

write_conf < /dev/null
start
check "sprovd up, a phone served" served
base=$(fingerprint)
check "the store's fingerprint reads devices, parameters and reports" \
    test -n "$base" -a "$(sqlite3 "$T/var/sprov.db" "SELECT count(*) FROM
    devices; SELECT count(*) FROM params" | tr '\n' ' ')" = "2 2 "
unchanged() { local f; f=$(fingerprint) && test "$f" = "$base"; }

# --- Slowloris: 50 connections sending their headers one byte a second.
t0=$(date +%s)
$HOSTILE slowloris 127.0.0.1 $PORT 50 20 dev/$M1.crt dev/$M1.key \
    ca/server-ca.crt > slow.txt &
slowpid=$!
sleep 1.5
check "slowloris: a phone is served while 50 drip" served
wait $slowpid
read -r _ cut _ a408 _ life < slow.txt
check "slowloris: all 50 cut ($cut), each answered 408 ($a408)" \
    test "$cut" = 50 -a "$a408" = 50
check "slowloris: cut at timeout_request 3 s (longest lived $life s)" \
    test "$life" -le 5
check "slowloris: nothing stored changed" unchanged

# --- 10,000 idle connections: bounded memory, phones still served.
r0=$(rss)
$HOSTILE idle 127.0.0.1 $PORT 10000 8 > idle.txt &
idlepid=$!
sleep 2.5
r1=$(rss)
t0=$(date +%s%N)
served; ok=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "10,000 idle connections: a phone is served meanwhile (${ms} ms)" \
    test $ok = 0
check "10,000 idle connections: memory grew $(( (r1 - r0) / 1024 )) MiB \
(bound: 2 KiB a connection, 20 MiB)" test $(( r1 - r0 )) -lt 20480
wait $idlepid
read -r _ opened _ closed < <(tail -1 idle.txt)
check "10,000 idle connections: all opened ($opened), all closed by the \
server at timeout_handshake 4 s ($closed)" test "$opened" = 10000 -a \
    "$closed" = 10000
check "10,000 idle connections: served after" served

# --- A handshake flood: ClientHellos then RST, 5,000 of them.
$HOSTILE flood 127.0.0.1 $PORT 5000 > flood.txt
check "handshake flood: 5,000 ClientHellos sent" grep -q "^sent 5000" \
    flood.txt
check "handshake flood: the server lives and serves" served
check "handshake flood: nothing stored changed" unchanged

# --- 300 silent connections that then all start their handshake at once,
# with max_handshakes 16: the ClientHellos past the limit wait (parked)
# and every phone is served; none is refused.
stop
write_conf <<< "max_handshakes 16"
start
$HOSTILE burst 127.0.0.1 $PORT 300 dev/$M1.crt dev/$M1.key \
    ca/server-ca.crt > burst.txt
check "300 handshakes at once past max_handshakes 16: all served \
($(cat burst.txt))" grep -qx "served 300 of 300" burst.txt
parked=$(curl -sS --max-time 10 --cacert ca/server-ca.crt --cert adm/ops.crt \
    --key adm/ops.key --resolve "$NAME:$APORT:127.0.0.1" \
    "https://$NAME:$APORT/metrics" | sed -n 's/^sprovd_hello_parked_total //p')
check "... and the ones past the limit waited, parked ($parked)" test \
    "${parked:-0}" -gt 0
stop
write_conf < /dev/null
start

# --- Bytes that are not TLS.
$HOSTILE garbage 127.0.0.1 $PORT > garbage.txt
check "garbage: plain HTTP, a 64 KiB record header, a junk record: each \
refused with an alert or closed" grep -qE \
    "^plain-http (alert|closed) huge-record (alert|closed) junk-record (alert|closed)$" \
    garbage.txt
check "garbage: served after" served

# --- Renegotiation (TLS 1.2): refused, the connection ends.
{ printf 'R\n'; sleep 2; } | timeout 10 openssl s_client -tls1_2 \
    -connect 127.0.0.1:$PORT -servername $NAME -cert dev/$M1.crt \
    -key dev/$M1.key -CAfile ca/server-ca.crt > reneg.txt 2>&1
check "renegotiation: the client asked (RENEGOTIATING)" grep -q \
    RENEGOTIATING reneg.txt
check "renegotiation: refused by the server (no_renegotiation alert)" \
    grep -qiE "no.renegotiation|alert number 100" reneg.txt
check "renegotiation: served after" served

# --- Request smuggling, bombs, NUL and control bytes: every request below
# is sent with a second, innocent request pipelined after it; the answer
# must be the exact status and no second answer (the connection ends, so
# nothing after a confusing head is ever taken as a request).
HOSTH="Host: $NAME"
smuggle() {	# name status request-bytes(printf format)
	local name=$1 want=$2 fmt=$3
	{ printf "$fmt"; printf 'GET /prov/self.xml HTTP/1.1\r\n%s\r\n\r\n' \
	    "$HOSTH"; } | raw > sm.out
	local got n
	got=$(status sm.out)
	n=$(grep -ac '^HTTP/1.1 ' sm.out)
	check "$name: $want, connection closed (got ${got:-none}, $n answer(s))" \
	    test "$got" = "$want" -a "$n" = 1
}
R="POST /report/$M1.xml HTTP/1.1\r\n$HOSTH\r\n"
smuggle "two different Content-Length" 400 \
    "${R}Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc"
smuggle "Content-Length and Transfer-Encoding" 501 \
    "${R}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
smuggle "Transfer-Encoding: identity" 501 \
    "${R}Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"
smuggle "Transfer-Encoding with a space before the colon" 400 \
    "${R}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc"
smuggle "Transfer-Encoding: xchunked" 501 \
    "${R}Transfer-Encoding: xchunked\r\n\r\n"
smuggle "Content-Length: +3" 400 "${R}Content-Length: +3\r\n\r\nabc"
smuggle "Content-Length: 3, 3" 400 "${R}Content-Length: 3, 3\r\n\r\nabc"
smuggle "Content-Length: -1" 400 "${R}Content-Length: -1\r\n\r\n"
smuggle "Content-Length: 0x3" 400 "${R}Content-Length: 0x3\r\n\r\nabc"
smuggle "Content-Length of 30 digits" 400 \
    "${R}Content-Length: 999999999999999999999999999999\r\n\r\n"
smuggle "Content-Length of 1 TiB (a body bomb)" 413 \
    "${R}Content-Length: 1099511627776\r\n\r\n"
smuggle "an obs-fold continuation line" 400 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\nX-A: b\r\n c\r\n\r\n"
smuggle "a header without a colon" 400 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\nNoColon\r\n\r\n"
smuggle "absolute-form target" 400 \
    "GET https://evil.example/prov/self.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
smuggle "HTTP/2 request line" 505 "GET /prov/self.xml HTTP/2.0\r\n$HOSTH\r\n\r\n"
hdrs=$(for i in $(seq 1 100); do printf 'X-H%d: v\\r\\n' $i; done)
smuggle "a header bomb (100 headers)" 431 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\n$hdrs\r\n"
smuggle "NUL in the path" 400 "GET /prov/self\000.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
smuggle "percent-encoded NUL in the path" 400 "GET /prov/self%%00.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
smuggle "ESC in the path" 400 "GET /prov/\033[2Jself.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
smuggle "NUL in a header value" 400 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\nUser-Agent: a\000b\r\n\r\n"
smuggle "a bare CR in a header value" 400 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\nUser-Agent: a\rb\r\n\r\n"
smuggle "DEL in a header name" 400 \
    "GET /prov/self.xml HTTP/1.1\r\n$HOSTH\r\nX\177A: b\r\n\r\n"
smuggle "UTF-8 bytes in the path (a non-ASCII MAC)" 400 \
    "GET /prov/00\303\251e08000001.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
long=$(printf '0%.0s' $(seq 1 2000))
smuggle "a 2,000-character MAC" 414 "GET /prov/$long.xml HTTP/1.1\r\n$HOSTH\r\n\r\n"
check "after the smuggling set: nothing stored changed" unchanged
check "after the smuggling set: served" served

# Over-long, malformed and other MACs through curl: refused, named.
for m in 000e080000011 000e0800000 000e0800000g 00-0e-08-00-00-01-02 \
    "$(printf 'a%.0s' $(seq 1 200))"; do
	c=$(code dev/$M1 /prov/$m.xml -o mac.out)
	check "MAC '${m:0:24}': 404 ($c), no profile" sh -c \
	    "[ $c = 404 ] && ! grep -q flat-profile mac.out"
	c=$(code dev/$M1 /report/$m.xml --data-binary '<flat-profile/>')
	check "report as MAC '${m:0:24}': 404 ($c)" test "$c" = 404
done
check "after the MACs: nothing stored changed" unchanged

# --- SQL metacharacters in every field that reaches the store: kept
# verbatim, nothing else touched.
ndev() { sqlite3 "$T/var/sprov.db" "SELECT count(*) FROM devices"; }
nparam() { sqlite3 "$T/var/sprov.db" "SELECT count(*) FROM params"; }
d0=$(ndev); p0=$(nparam)
SQLI="x'); DROP TABLE device; --\"; DELETE FROM param; /*"
check "SQL in User-Agent: profile served" test "$(code dev/$M1 \
    /prov/$M1.xml -A "$SQLI")" = 200
sleep 0.5	# the last-seen write lingers up to 250 ms
check "SQL in User-Agent: stored verbatim" sh -c "$ST device-show $M1 |
    grep -qF -- \"\$1\"" _ "$SQLI"
printf '<flat-profile><Note>%s</Note></flat-profile>' \
    "a'; DELETE FROM report; DROP TABLE audit; --" > sqli.xml
check "SQL in a report body: 204" test "$(code dev/$M1 /report/$M1.xml \
    --data-binary @sqli.xml)" = 204
check "SQL in a report body: stored verbatim" sh -c \
    "$ST report $M1 | grep -qF \"a'; DELETE FROM report; DROP TABLE audit; --\""
ADM=(curl -sS --max-time 10 --cacert ca/server-ca.crt --cert adm/ops.crt
    --key adm/ops.key --resolve "$NAME:$APORT:127.0.0.1")
API="https://$NAME:$APORT/api/v1"
c=$("${ADM[@]}" -o /dev/null -w '%{http_code}' -X PUT \
    "$API/params/default/Display_Name_1_" \
    --data-binary '{"value": "O'"'"'Brien\"; DROP TABLE param; --"}')
check "SQL in a parameter value (admin API): accepted ($c)" test "$c" = 200
get dev/$M1 /prov/$M1.xml > sqlp.xml
check "SQL in a parameter value: served verbatim (xmllint)" test \
    "$(xmllint --xpath 'string(//Display_Name_1_)' sqlp.xml)" = \
    "O'Brien\"; DROP TABLE param; --"
for path in "params/group/x'--/Display_Name_1_" \
    "params/default/Name';DROP%20TABLE%20param;--" \
    "devices/000e0800'--" "params/device/000e08000001'/X"; do
	c=$("${ADM[@]}" -o api.out -w '%{http_code}' -X PUT "$API/$path" \
	    --data-binary '{"value": "v"}')
	# Quotes and % never pass the request parser's path charset.
	check "SQL in an admin path ($path): 400 from the HTTP parser ($c)" \
	    sh -c "[ $c = 400 ] && grep -qx 'Bad Request' api.out"
done
c=$("${ADM[@]}" -o api.out -w '%{http_code}' -X PUT "$API/devices/$M2" \
    --data-binary '{"model": "CP-8841-3PCC", "groups": ["lobby'"'"'; DROP TABLE devices; --"]}')
check "SQL in a group name (admin API body): 400 ($c)" test "$c" = 400
has "SQL in a group name: the error names the group" api.out "group"
c=$("${ADM[@]}" -o api.out -w '%{http_code}' -X PUT "$API/devices/000e08000009" \
    --data-binary '{"model": "CP'"'"'; DROP TABLE device; --", "serial": "S\"1"}')
check "SQL in a device's model: refused by the model charset ($c)" sh -c \
    "[ $c = 400 ] && grep -q model api.out"
check "SQL everywhere: device count unchanged ($d0)" test "$(ndev)" = "$d0"
check "SQL everywhere: one parameter added, none lost ($p0 + 1)" test \
    "$(nparam)" = $((p0 + 1))
check "SQL everywhere: the audit chain verifies" $SPROVCTL -u \
    "https://$NAME:$APORT" --cacert ca/server-ca.crt --cert adm/ops.crt \
    --key adm/ops.key --resolve "$NAME:$APORT:127.0.0.1" audit verify
base=$(fingerprint)

# --- Certificates with odd subjects, signed by the real device CA.
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n' \
    > dev.ext
big=$(head -c 65536 /dev/zero | od -An -vtx1 | tr -d ' \n')
cp dev.ext big.ext
echo "1.3.6.1.4.1.99999.1=ASN1:FORMAT:HEX,OCTETSTRING:$big" >> big.ext
odd() {		# name subject [extfile]: odd/NAME.crt and .key
	mkdir -p odd
	openssl req -new -utf8 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout odd/$1.key -subj "$2" 2>/dev/null |
	    openssl x509 -req -CA ca/device-ca.crt -CAkey ca/device-ca.key \
	    -days 30 -extfile "${3:-dev.ext}" -out odd/$1.crt 2>/dev/null
	chmod 600 odd/$1.key
}
odd empty "/"
odd dupst "/OU=CP-8841-3PCC/L=SN$M1/ST=$M1/ST=$M2/CN=$M1"
odd utf8 "/OU=CP-8841-3PCC/L=Séri€-ünï/ST=$M1/CN=Téléphone ☎"
odd utf8mac "/OU=CP-8841-3PCC/L=SN1/ST=000e0800000①/CN=x"
odd ext64k "/OU=CP-8841-3PCC/L=SN$M1/ST=$M1/CN=$M1" big.ext
check "odd certificates made by the device CA" test -s odd/empty.crt -a \
    -s odd/dupst.crt -a -s odd/utf8.crt -a -s odd/ext64k.crt
check "a certificate with an empty subject: 403 (no device named)" test \
    "$(code odd/empty /prov/$M1.xml)" = 403
check "two ST (two MACs) in one subject: 403 (ambiguous)" test \
    "$(code odd/dupst /prov/$M1.xml)" = 403
check "... nor the other MAC's profile" test \
    "$(code odd/dupst /prov/$M2.xml)" = 403
has "two ST: the log names why" sprovd.log "repeats ST, OU, L or CN"
check "UTF-8 serial and CN with a valid ST: served as that device" test \
    "$(code odd/utf8 /prov/$M1.xml)" = 200
check "a non-ASCII MAC in ST: 403" test "$(code odd/utf8mac /prov/self.xml)" \
    = 403
c=$(code odd/ext64k /prov/$M1.xml)
check "a 64 KiB extension: served ($c), the certificate is valid" test "$c" = 200
check "odd certificates: nothing stored changed" unchanged
check "odd certificates: served after" served

# --- An expired CRL: every phone refused (deny by default), said loudly.
cat > crl.cnf <<'CNF'
[ca]
default_ca = d
[d]
database = crl-index.txt
default_md = sha256
crlnumber = crl-number
CNF
: > crl-index.txt; echo 1000 > crl-number
mkcrl() {	# out nextupdate
	openssl ca -gencrl -config crl.cnf -cert ca/device-ca.crt \
	    -keyfile ca/device-ca.key -crl_lastupdate 20200101000000Z \
	    -crl_nextupdate "$2" -out "$1" 2>/dev/null
}
mkcrl expired.crl 20200102000000Z
stop
write_conf <<< "crl $T/expired.crl"
sed -i '/^crl .*device-ca.crl$/d' sprovd.conf
$SPROVD -n -f sprovd.conf > crlcheck.txt 2>&1
has "expired CRL: sprovd -n says every device will be refused" crlcheck.txt \
    "the CRL expired at 2020-01-02 00:00:00Z: every device is refused"
: > sprovd.log
start
check "expired CRL: a phone is refused in the handshake" test \
    "$(code dev/$M1 /prov/$M1.xml)" = 000
has "expired CRL: the log names it" sprovd.log "CRL has expired"
has "expired CRL: said at start" sprovd.log "the CRL expired at"
stop
# A CRL that expires while sprovd runs: the remembered verdict ends too.
mkcrl soon.crl "$(date -u -d '+4 seconds' +%Y%m%d%H%M%SZ)"
write_conf <<< "crl $T/soon.crl"
sed -i '/^crl .*device-ca.crl$/d' sprovd.conf
start
check "CRL valid for 4 more seconds: served" served
check "... served again (verdict remembered)" served
sleep 5
check "... refused once the CRL has expired, remembered or not" test \
    "$(code dev/$M1 /prov/$M1.xml)" = 000
$CA crl >/dev/null
cp ca/crl/device-ca.crl soon.crl
kill -HUP $PID
sleep 0.5
check "a fresh CRL and SIGHUP: served again, no restart" served
stop

# --- A full disk during report writes (the store on a 6 MiB tmpfs this
# test mounts): 503, profiles still served, nothing acknowledged lost;
# with room again, reports are taken again.
mkdir -p small
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=6m tmpfs small 2>/dev/null
then
	trap 'kill $PID 2>/dev/null; umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT
	sqlite3 var/sprov.db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	cp var/sprov.db small/sprov.db
	write_conf < /dev/null
	sed -i "s|^store .*|store sqlite:$T/small/sprov.db|" sprovd.conf
	start
	for i in 1 2 3; do
		printf '<flat-profile><Seq>full-%d</Seq></flat-profile>' $i > f$i.xml
		c=$(code dev/$M2 /report/$M2.xml --data-binary @f$i.xml)
		[ "$c" = 204 ] && echo full-$i >> facked.txt
	done
	check "full disk: 3 reports acknowledged before" test \
	    "$(wc -l < facked.txt)" = 3
	dd if=/dev/zero of=small/fill bs=64k 2>/dev/null
	head -c 45000 /dev/urandom | base64 -w0 |
	    sed 's/^/<flat-profile><Big>/; s/$/<\/Big><\/flat-profile>/' > big.xml
	for i in 1 2 3 4 5; do
		c=$(code dev/$M2 /report/$M2.xml --data-binary @big.xml)
		[ "$c" != 204 ] && break
	done
	check "full disk: a report is answered 503 ($c)" test "$c" = 503
	check "full disk: profiles are still served" served
	has "full disk: the log names the cause" sprovd.log "full"
	rm -f small/fill
	c=$(code dev/$M2 /report/$M2.xml --data-binary @f1.xml)
	check "full disk: with room again, a report is taken ($c)" test "$c" = 204
	stop
	check "full disk: every acknowledged report is in the store" sh -c "
	    for s in \$(cat facked.txt); do
		sqlite3 small/sprov.db \"SELECT count(*) FROM reports WHERE
		    CAST(body AS TEXT) LIKE '%<Seq>'||'\$s'||'</Seq>%'\" |
		    grep -qx '[1-9][0-9]*' || exit 1
	    done"
	check "full disk: the store passes SQLite's integrity check" test \
	    "$(sqlite3 small/sprov.db 'PRAGMA integrity_check')" = ok
	umount small
else
	skip "full disk" "mounting a small tmpfs needs root and mount permission"
fi

# --- The store file removed while sprovd runs: writes refused (503),
# nothing acknowledged into a file nobody will open again.
write_conf < /dev/null
start
check "store removed: served before" served
mv var/sprov.db var/moved.db
c=$(code dev/$M2 /report/$M2.xml --data-binary @f1.xml)
check "store removed: a report is answered 503 ($c)" test "$c" = 503
has "store removed: the log names it" sprovd.log "was removed or replaced"
mv var/moved.db var/sprov.db
c=$(code dev/$M2 /report/$M2.xml --data-binary @f2.xml)
check "store back in place: reports taken again ($c)" test "$c" = 204

# --- The store locked by another process beyond the busy timeout (10 s):
# the report is answered 503, profiles are still served meanwhile.
rm -f locked.txt
( printf '.timeout 5000\nBEGIN IMMEDIATE;\nSELECT %s;\n' "'locked'"
  sleep 13; echo "COMMIT;" ) | sqlite3 var/sprov.db > locked.txt &
lockpid=$!
for i in $(seq 1 50); do grep -q locked locked.txt 2>/dev/null && break
	sleep 0.1; done
check "store locked: another process holds the write lock" grep -q locked \
    locked.txt
code dev/$M2 /report/$M2.xml --data-binary @f3.xml --max-time 20 > lock.txt &
reppid=$!
sleep 1
check "store locked: a profile is served meanwhile" served
wait $reppid
check "store locked: the report is answered 503 ($(cat lock.txt))" \
    test "$(cat lock.txt)" = 503
wait $lockpid
c=$(code dev/$M2 /report/$M2.xml --data-binary @f3.xml)
check "store unlocked: reports taken again ($c)" test "$c" = 204

# --- kill -9 under load: restart, every acknowledged report is there,
# the audit chain verifies.
: > kacked.txt
for k in 1 2; do
	( while :; do code dev/$M1 /prov/$M1.xml >/dev/null; done ) &
	eval "load$k=\$!"
done
( for i in $(seq 1 400); do
	printf '<flat-profile><Seq>k9-%d</Seq></flat-profile>' $i > k$i.xml
	c=$(code dev/$M2 /report/$M2.xml --data-binary @k$i.xml)
	[ "$c" = 204 ] && echo k9-$i >> kacked.txt
  done ) &
burst=$!
sleep 2
kill -9 $PID
wait $burst 2>/dev/null
kill $load1 $load2 2>/dev/null
wait $load1 $load2 2>/dev/null
n=$(wc -l < kacked.txt)
check "kill -9 under load: reports were acknowledged before ($n)" \
    test "$n" -ge 3
start
missing=0
while read -r s; do
	[ "$(sqlite3 var/sprov.db "SELECT count(*) FROM reports WHERE
	    CAST(body AS TEXT) LIKE '%<Seq>$s</Seq>%'")" -ge 1 ] ||
	    missing=$((missing + 1))
done < kacked.txt
check "kill -9 under load: every acknowledged report is there ($n, \
$missing missing)" test "$missing" = 0
check "kill -9 under load: the audit chain verifies after restart" \
    $SPROVCTL -u "https://$NAME:$APORT" --cacert ca/server-ca.crt \
    --cert adm/ops.crt --key adm/ops.key --resolve "$NAME:$APORT:127.0.0.1" \
    audit verify
check "kill -9 under load: served after restart" served
stop

done_testing
