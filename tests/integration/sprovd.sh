#!/usr/bin/env bash
# sprovd against real clients: curl (--cert/--key/--cacert) and
# openssl s_client, on loopback ports the daemon reports itself.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROVD:?}" "${SPROV_STORECTL:?}" "${SPROVCTL:?}"
FLOOD=$(dirname "$SPROV_STORECTL")/connflood
CA="$SPROV_CA -d ca"
DB="sqlite:$T/var/sprov.db"
ST="$SPROV_STORECTL $DB"
NAME=prov.sprov.test

# PKI: EC and RSA server certificates for one name, devices, strangers.
$CA init >/dev/null
mkreq() {	# key csr subj newkey...
	local k=$1 c=$2 s=$3; shift 3
	openssl req -new "$@" -nodes -keyout "$k" -out "$c" -subj "$s" \
	    2>/dev/null && chmod 600 "$k"
}
mkreq srv-ec.key srv-ec.csr "/CN=$NAME" -newkey ec -pkeyopt \
    ec_paramgen_curve:P-256
mkreq srv-rsa.key srv-rsa.csr "/CN=$NAME" -newkey rsa:2048
$CA sign-server srv-ec.csr -o srv-ec.crt 2>/dev/null
$CA sign-server srv-rsa.csr -o srv-rsa.crt 2>/dev/null
for m in 000e08000001 000e08000002 000e08000003 000e08000004 000e08000005; do
	$CA issue-device --mac $m --serial SN$m --model CP-8841-3PCC -o dev \
	    >/dev/null
done
$CA issue-admin alice -o adm >/dev/null
$SPROV_CA -d other init >/dev/null
$SPROV_CA -d other issue-device --mac 000e08000001 -o foreign >/dev/null
# Generic (pre-2.0 Cisco style) and expired certificates from device-ca.
cat > ca.cnf <<'CNF'
[ca]
default_ca = d
[d]
database = ossl-index.txt
new_certs_dir = .
serial = ossl-serial
default_md = sha256
policy = p
copy_extensions = none
[p]
organizationalUnitName = optional
localityName = optional
stateOrProvinceName = optional
commonName = optional
[ext]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = clientAuth
CNF
: > ossl-index.txt
echo 01 > ossl-serial
mkreq gen.key gen.csr "/OU=cisco.com/L=ciscogeneric/ST=ciscogeneric" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256
openssl ca -batch -config ca.cnf -cert ca/device-ca.crt -keyfile \
    ca/device-ca.key -in gen.csr -out gen.crt -days 30 -extensions ext \
    -notext >/dev/null 2>&1
mkreq old.key old.csr "/OU=CP-8841-3PCC/L=SNold/ST=000e08000001/CN=000e08000001" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256
openssl ca -batch -config ca.cnf -cert ca/device-ca.crt -keyfile \
    ca/device-ca.key -in old.csr -out old.crt -startdate 20200101000000Z \
    -enddate 20210101000000Z -extensions ext -notext >/dev/null 2>&1
check "test PKI ready" test -s gen.crt -a -s old.crt -a -s srv-rsa.crt
$CA crl >/dev/null

mkdir -p var fw
head -c 300000 /dev/urandom > fw/sip88xx.11-3-1.loads
echo secret > var/outside.txt
write_conf() {	# extra lines on stdin
	cat > sprovd.conf <<CONF
listen 127.0.0.1:0
listen [::1]:0
listen_report $T/listen.txt
cert $T/srv-ec.crt
key $T/srv-ec.key
cert $T/srv-rsa.crt
key $T/srv-rsa.key
client_ca $T/ca/device-ca.crt
crl $T/ca/crl/device-ca.crl
store $DB
firmware_dir $T/fw
workers 2
timeout_request 2
max_header 4096
max_report 65536
admin_listen 127.0.0.1:0
admin_ca $T/ca/admin-ca.crt
CONF
	cat >> sprovd.conf
}
. "$TESTLIB/sprovd.sh"
start() { sprovd_start; PORT6=${LISTENS[1]:-}; APORT=${LISTENS[2]:-}; }

# Configuration checks.
write_conf < /dev/null
check "-n accepts the configuration" $SPROVD -n -f sprovd.conf
echo "bogus 1" >> sprovd.conf
refuse "an unknown key is refused with its line" 1 "sprovd.conf:18: unknown key 'bogus'" \
    $SPROVD -n -f sprovd.conf
write_conf < /dev/null
chmod 644 srv-ec.key
refuse "a readable server key is refused" 1 "chmod 600" $SPROVD -n -f sprovd.conf
chmod 600 srv-ec.key
mkreq bad.key bad.csr "/CN=localhost" -newkey ec -pkeyopt \
    ec_paramgen_curve:P-256
openssl x509 -req -in bad.csr -CA ca/server-ca.crt -CAkey ca/server-ca.key \
    -days 30 -out bad.crt 2>/dev/null
sed -i "s|cert $T/srv-ec.crt|cert $T/bad.crt|; s|key $T/srv-ec.key|key $T/bad.key|" \
    sprovd.conf
refuse "a certificate that breaks the CN rule is refused" 1 "CN rule" \
    $SPROVD -n -f sprovd.conf
write_conf < /dev/null
sed -i "s|key $T/srv-ec.key|key $T/srv-rsa.key|" sprovd.conf
refuse "a key that does not match is refused" 1 "does not match" \
    $SPROVD -n -f sprovd.conf
refuse "usage" 2 "usage: sprovd" $SPROVD

# The store: devices and layered parameters.
$ST device 000e08000001 CP-8841-3PCC SN000e08000001 >/dev/null
$ST device 000e08000002 CP-8841-3PCC >/dev/null
$ST device 000e08000003 CP-8841-3PCC >/dev/null
$ST device 000e08000005 CP-8841-3PCC >/dev/null
$ST param default Proxy_1_ default.example.net
$ST param default Resync_Periodic 3600
$ST param model:CP-8841-3PCC Proxy_1_ model.example.net
$ST param group:lobby Station_Name Lobby
$ST param group:vip Station_Name VIP
$ST groups 000e08000001 lobby vip
$ST param device:000e08000001 Password_1_ 's3cr<t&"pw' na
$ST param device:000e08000002 Password_1_ other-device-secret na
$ST state 000e08000003 quarantined

write_conf < /dev/null
start
check "sprovd reports its bound addresses" test -n "$PORT" -a -n "$PORT6"

get dev/000e08000001 /prov/000e08000001.xml -D head1.txt -o p1.xml
check "own profile: 200" grep -q "^HTTP/1.1 200" head1.txt
check "own profile is well-formed XML (xmllint)" xmllint --noout p1.xml
check "layers: model over default" test "$(xmllint --xpath \
    'string(/flat-profile/Proxy_1_)' p1.xml)" = model.example.net
check "layers: the later group wins" test "$(xmllint --xpath \
    'string(/flat-profile/Station_Name)' p1.xml)" = VIP
check "layers: default kept" test "$(xmllint --xpath \
    'string(/flat-profile/Resync_Periodic)' p1.xml)" = 3600
check "device value, escaped and read back" test "$(xmllint --xpath \
    'string(/flat-profile/Password_1_)' p1.xml)" = 's3cr<t&"pw'
check "ua attribute" test "$(xmllint --xpath \
    'string(/flat-profile/Password_1_/@ua)' p1.xml)" = na
check "no other device's secret" sh -c "! grep -q other-device-secret p1.xml"
has "no caching of secrets" head1.txt "Cache-Control: no-store"
get dev/000e08000001 /prov/self.xml -o self.xml
check "self.xml is the same profile" cmp p1.xml self.xml
check "MAC in upper case names the same device" test "$(code \
    dev/000e08000001 /prov/000E08000001.xml)" = 200
check "another MAC: 403" test "$(code dev/000e08000001 \
    /prov/000e08000002.xml)" = 403
check "another MAC: no byte of its profile" sh -c "! get dev/000e08000001 \
    /prov/000e08000002.xml | grep -q other-device-secret"
has "another MAC is logged as a security event" sprovd.log \
    "security: 127.0.0.1 with the certificate of 000e08000001 asked for the profile of 000e08000002"
check "no client certificate: refused in the handshake" test "$(code '' \
    /prov/self.xml)" = 000
check "server certificate as client: refused" test "$(code srv-ec \
    /prov/self.xml)" = 000
check "foreign CA: refused" test "$(code foreign/000e08000001 \
    /prov/000e08000001.xml)" = 000
check "expired certificate: refused" test "$(code old /prov/self.xml)" = 000
has "expired is logged with the reason" sprovd.log "certificate has expired"
# A remembered verdict (the verdict cache) ends at the certificate's expiry.
mkreq soon.key soon.csr "/OU=CP-8841-3PCC/L=SNsoon/ST=000e08000001/CN=000e08000001" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256
openssl ca -batch -config ca.cnf -cert ca/device-ca.crt -keyfile \
    ca/device-ca.key -in soon.csr -out soon.crt -startdate 20200101000000Z \
    -enddate "$(date -u -d '+5 seconds' +%Y%m%d%H%M%SZ)" -extensions ext \
    -notext >/dev/null 2>&1
check "a certificate about to expire: served (and its verdict remembered)" \
    test "$(code soon /prov/self.xml)" = 200
check "... served again from the remembered verdict" \
    test "$(code soon /prov/self.xml)" = 200
sleep 6
check "... refused once it has expired, remembered or not" \
    test "$(code soon /prov/self.xml)" = 000
check "quarantined device: 403" test "$(code dev/000e08000003 \
    /prov/self.xml)" = 403
check "unknown device (reject policy): 403" test "$(code dev/000e08000004 \
    /prov/self.xml)" = 403
check "generic certificate: 403" test "$(code gen /prov/self.xml)" = 403
check "IPv6 listener serves too" test "$(curl -sS -o /dev/null -w \
    '%{http_code}' --cacert ca/server-ca.crt --cert dev/000e08000001.crt \
    --key dev/000e08000001.key --resolve "$NAME:$PORT6:[::1]" \
    "https://$NAME:$PORT6/prov/self.xml")" = 200

# HEAD, ETag and 304.
etag=$(sed -n 's/^ETag: //p' head1.txt | tr -d '\r')
check "strong ETag" sh -c "echo '$etag' | grep -qE '^\"[0-9a-f]{64}\"\$'"
get dev/000e08000001 /prov/self.xml -I -o /dev/null -D headh.txt
check "HEAD: 200 without a body" grep -q "^HTTP/1.1 200" headh.txt
has "HEAD: same length" headh.txt "Content-Length: $(stat -c %s p1.xml)"
check "If-None-Match: 304" test "$(code dev/000e08000001 /prov/self.xml \
    -H "If-None-Match: $etag")" = 304
check "a stale ETag: 200" test "$(code dev/000e08000001 /prov/self.xml \
    -H 'If-None-Match: "0000"')" = 200
$ST param device:000e08000001 Station_Name Changed
check "a change: the old ETag no longer matches" test "$(code \
    dev/000e08000001 /prov/self.xml -H "If-None-Match: $etag")" = 200

# TLS: versions and both server key types.
check "TLS 1.3" sh -c "echo | openssl s_client -connect 127.0.0.1:$PORT \
    -servername $NAME -tls1_3 -cert dev/000e08000001.crt -key \
    dev/000e08000001.key -CAfile ca/server-ca.crt 2>&1 | grep -q 'TLSv1.3'"
# TLS 1.1: a client that allows it (SECLEVEL=0) negotiates it with a
# permissive openssl s_server (the control), and sprovd refuses it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout t11.key -out t11.crt -subj /CN=t11 -days 1 2>/dev/null
for try in 1 2 3 4 5; do
	P11=$((20000 + RANDOM % 12000))
	openssl s_server -accept 127.0.0.1:$P11 -cert t11.crt -key t11.key \
	    -cipher 'DEFAULT:@SECLEVEL=0' -www -quiet >/dev/null 2>&1 &
	PID11=$!
	sleep 0.3
	kill -0 $PID11 2>/dev/null && break
done
echo | openssl s_client -connect 127.0.0.1:$P11 -tls1_1 -cipher \
    'DEFAULT:@SECLEVEL=0' > t11c.out 2>&1
check "TLS 1.1: the client can speak it (control, openssl s_server)" sh -c \
    "grep -q 'Cipher is ECDHE' t11c.out && grep -q 'Protocol  : TLSv1.1' \
    t11c.out"
kill $PID11 2>/dev/null
echo | openssl s_client -connect 127.0.0.1:$PORT -tls1_1 -cipher \
    'DEFAULT:@SECLEVEL=0' -cert dev/000e08000001.crt -key \
    dev/000e08000001.key > t11.out 2>&1
check "TLS 1.1 refused by sprovd (protocol_version alert, no cipher)" \
    sh -c "grep -q 'alert protocol version' t11.out &&
    grep -q 'Cipher is (NONE)' t11.out"
check "RSA certificate for an RSA-only TLS 1.2 client" sh -c "echo | \
    openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -cipher \
    ECDHE-RSA-AES128-GCM-SHA256 -cert dev/000e08000001.crt -key \
    dev/000e08000001.key -CAfile ca/server-ca.crt 2>&1 |
    grep -q 'Server public key is 2048 bit'"
check "EC certificate for an ECDSA TLS 1.2 client" sh -c "echo | \
    openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -cipher \
    ECDHE-ECDSA-AES128-GCM-SHA256 -cert dev/000e08000001.crt -key \
    dev/000e08000001.key -CAfile ca/server-ca.crt 2>&1 |
    grep -q 'Server public key is 256 bit'"

# Reports.
cat > report.xml <<'XML'
<flat-profile><Software_Version>sip88xx.11-3-1MPP</Software_Version>
<Station_Name>Lobby</Station_Name></flat-profile>
XML
check "report: 204" test "$(code dev/000e08000001 /report/000e08000001.xml \
    --data-binary @report.xml)" = 204
check "report readable from the store" sh -c "$ST report 000e08000001 |
    cmp - report.xml"
check "report: firmware recorded" sh -c "$ST device-show 000e08000001 |
    grep -q 'firmware=sip88xx.11-3-1MPP'"
check "report as another MAC: 403" test "$(code dev/000e08000001 \
    /report/000e08000002.xml --data-binary @report.xml)" = 403
check "report with PUT" test "$(code dev/000e08000001 \
    /report/000e08000001.xml -T report.xml)" = 204
# Refused before its body is read, the client must still get the 413
# (sprovd lingers instead of closing on unread data): 20 times in a row.
head -c 700000 /dev/zero | tr '\0' 'a' > big.xml
for i in $(seq 1 20); do
	code dev/000e08000001 /report/000e08000001.xml --data-binary @big.xml
	echo
done > big.codes
check "report over max_report: 413, every time (20 of 20)" test \
    "$(grep -c '^413$' big.codes)" = 20
check "profile by POST: 405" test "$(code dev/000e08000001 /prov/self.xml \
    -X POST -d x)" = 405
check "device seen: IP, User-Agent and certificate recorded" sh -c \
    "$ST device-show 000e08000001 | grep -q 'user_agent=curl/' &&
    $ST device-show 000e08000001 | grep -q 'last_ip=127.0.0.1'"

# Firmware.
get dev/000e08000001 /fw/sip88xx.11-3-1.loads -o fw.out
check "firmware: whole file" cmp fw.out fw/sip88xx.11-3-1.loads
get dev/000e08000001 /fw/sip88xx.11-3-1.loads -r 1000-1999 -D fwh.txt -o \
    part.out
check "firmware: Range gives 206" grep -q "^HTTP/1.1 206" fwh.txt
check "firmware: Range bytes" cmp part.out <(tail -c +1001 \
    fw/sip88xx.11-3-1.loads | head -c 1000)
check "firmware: unsatisfiable range: 416" test "$(code dev/000e08000001 \
    /fw/sip88xx.11-3-1.loads -r 400000-)" = 416
check "firmware: missing file: 404" test "$(code dev/000e08000001 \
    /fw/nope.loads)" = 404
check "firmware: quarantined device: 403" test "$(code dev/000e08000003 \
    /fw/sip88xx.11-3-1.loads)" = 403
for p in '/fw/../var/outside.txt' '/fw/%2e%2e/var/outside.txt' \
    '/fw/..%2fvar%2foutside.txt' '/fw/.%2e/var/outside.txt' \
    '/fw/%252e%252e/x' '/fw//etc/passwd' '/fw/..\var\outside.txt'; do
	c=$(code dev/000e08000001 "$p" --path-as-is)
	check "traversal $p refused ($c)" test "$c" = 400 -o "$c" = 404
done
ln -s ../var/outside.txt fw/link.txt
check "a symlink out of firmware_dir: 404" test "$(code dev/000e08000001 \
    /fw/link.txt)" = 404
check "anything else: 404" test "$(code dev/000e08000001 /admin)" = 404

# Hostile HTTP through openssl s_client.
raw() {		# sends stdin as the request, prints the response
	timeout 8 openssl s_client -quiet -connect 127.0.0.1:$PORT \
	    -servername $NAME -cert dev/000e08000001.crt -key \
	    dev/000e08000001.key -CAfile ca/server-ca.crt 2>/dev/null
}
printf 'GET /prov/self.xml HTTP/1.1\r\nHost: %s\r\n\r\nGET /prov/self.xml HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' \
    $NAME $NAME | raw > pipe.out
check "pipelined requests: two answers" test "$(grep -c '^HTTP/1.1 200' \
    pipe.out)" = 2
{ printf 'GET /prov/self.xml HTTP/1.1\r\nHost: %s\r\nX-Big: ' $NAME
  head -c 5000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } | raw > big.out
check "oversized header: 431" grep -q "^HTTP/1.1 431" big.out
printf 'POST /report/000e08000001.xml HTTP/1.1\r\nHost: %s\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc' \
    $NAME | raw > smug.out
check "duplicate Content-Length: 400" grep -q "^HTTP/1.1 400" smug.out
printf 'POST /report/000e08000001.xml HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
    $NAME | raw > te.out
check "Transfer-Encoding: 501" grep -q "^HTTP/1.1 501" te.out
printf 'GET /prov/self.xml HTTP/1.1\nHost: %s\n\n' $NAME | raw > lf.out
check "bare LF: 400" grep -q "^HTTP/1.1 400" lf.out
start_t=$(date +%s)
{ printf 'GET /prov/self.xml HTTP/1.1\r\nHo'; sleep 4; } | raw > slow.out
check "slow client: 408 after timeout_request" grep -q "^HTTP/1.1 408" slow.out
check "slow client: cut within the timeout" test $(( $(date +%s) - start_t )) -le 4

# The admin API and sprovctl.
ctl() {
	$SPROVCTL -u https://$NAME:$APORT --cert adm/alice.crt --key \
	    adm/alice.key --cacert ca/server-ca.crt --resolve \
	    "$NAME:$APORT:127.0.0.1" "$@"
}
ctl status > st.txt 2>&1
check "sprovctl status" test $? = 0
has "status counts devices" st.txt "devices 4 (active 3, quarantined 1)"
check "sprovctl device add with model and group" ctl device add \
    00:0E:08:00:00:06 --model CP-7841-3PCC --serial S6 --group lobby
check "sprovctl param set (device scope, ua)" ctl param set --device \
    000e08000006 Password_1_ "p6-secret" --ua na
check "sprovctl param set (group scope)" ctl param set --group lobby \
    Time_Zone GMT+1
ctl device show 000e08000006 > show6.txt
has "device show: groups" show6.txt "groups     lobby"
has "device show: merged profile" show6.txt "Time_Zone"
ctl --json device list > list.json
check "device list --json: every device" test "$(jq '.devices | length' \
    list.json)" = 5
ctl param set --device 000e08000001 Station_Name FromAdmin >/dev/null
get dev/000e08000001 /prov/self.xml > fromadmin.xml
has "a change through the admin API is served at once" fromadmin.xml \
    "<Station_Name>FromAdmin</Station_Name>"
check "sprovctl quarantine" ctl device quarantine 000e08000002
check "quarantined through the API: 403" test "$(code dev/000e08000002 \
    /prov/self.xml)" = 403
check "sprovctl activate" ctl device activate 000e08000002
check "activated again: 200" test "$(code dev/000e08000002 \
    /prov/self.xml)" = 200
ctl report 000e08000001 > rep.txt
check "sprovctl report shows the last report" cmp rep.txt report.xml
printf 'mac,serial,model\n000e08000101,S101,CP-8851-3PCC\n000e08000102,S102,CP-8851-3PCC\n' > imp.csv
check "sprovctl import" ctl import imp.csv
ctl device list > l2.txt
has "imported devices listed" l2.txt "000e08000102"
printf 'mac\n000e08000103\nnot-a-mac\n' > badimp.csv
refuse "a bad import is refused with its line, nothing imported" 1 \
    "import:3: bad MAC" ctl import badimp.csv
ctl device list > l3.txt
check "nothing from the bad import" sh -c "! grep -q 000e08000103 l3.txt"
refuse "a bad parameter name is refused" 1 "400" ctl param set --default \
    "Bad-Name" x
check "sprovctl audit verify" ctl audit verify
ctl audit list > audit.txt
has "sprovctl audit list: the refused request is there" audit.txt \
    "refused  000e08000001"
has "sprovctl audit list: admin requests too" audit.txt "admin"
check "sprovctl device delete" ctl device delete 000e08000101
refuse "a deleted device is gone" 1 "404" ctl device show 000e08000101
check "admin API refused to a device certificate" test "$(curl -sS -o \
    /dev/null -w '%{http_code}' --cacert ca/server-ca.crt --cert \
    dev/000e08000001.crt --key dev/000e08000001.key --resolve \
    "$NAME:$APORT:127.0.0.1" https://$NAME:$APORT/api/v1/status \
    2>/dev/null)" = 000
check "admin API refused without a certificate" test "$(curl -sS -o \
    /dev/null -w '%{http_code}' --cacert ca/server-ca.crt --resolve \
    "$NAME:$APORT:127.0.0.1" https://$NAME:$APORT/api/v1/status \
    2>/dev/null)" = 000
check "an operator certificate gets nothing on the device listener" test \
    "$(code adm/alice /prov/self.xml)" = 000
curl -sS --cacert ca/server-ca.crt --cert adm/alice.crt --key adm/alice.key \
    --resolve "$NAME:$APORT:127.0.0.1" https://$NAME:$APORT/metrics > m1.txt
code dev/000e08000001 /prov/self.xml >/dev/null
curl -sS --cacert ca/server-ca.crt --cert adm/alice.crt --key adm/alice.key \
    --resolve "$NAME:$APORT:127.0.0.1" https://$NAME:$APORT/metrics > m2.txt
has "metrics: Prometheus text with types" m1.txt \
    "# TYPE sprovd_request_duration_seconds histogram"
has "metrics: refusals by status" m1.txt 'sprovd_requests_total{status="403"}'
has "metrics: failed handshakes counted" m1.txt \
    'sprovd_handshakes_total{result="failed"}'
has "metrics: store queue depth" m1.txt "sprovd_store_queue_depth"
m200() { sed -n 's/^sprovd_requests_total{status="200"} //p' "$1"; }
check "metrics: a served profile is counted" test $(( $(m200 m2.txt) - \
    $(m200 m1.txt) )) -ge 1
check "metrics: histogram count equals the +Inf bucket" test "$(sed -n \
    's/.*le="+Inf"} //p' m2.txt)" = "$(sed -n \
    's/^sprovd_request_duration_seconds_count //p' m2.txt)"
check "metrics: not on the device listener" test "$(code dev/000e08000001 \
    /metrics)" = 404
cp adm/alice.key loose.key
chmod 644 loose.key
refuse "sprovctl refuses a readable key" 1 "chmod 600" $SPROVCTL -u \
    https://$NAME:$APORT --cert adm/alice.crt --key loose.key --cacert \
    ca/server-ca.crt status

# Revocation: a new CRL and SIGHUP, no restart, other connections kept.
check "device 5 served before revocation" test "$(code dev/000e08000005 \
    /prov/self.xml)" = 200
$CA revoke --mac 000e08000005 >/dev/null && $CA crl >/dev/null
kill -HUP $PID
sleep 0.5
check "revoked device refused after the reload" test "$(code \
    dev/000e08000005 /prov/self.xml)" = 000
check "other devices still served after the reload" test "$(code \
    dev/000e08000001 /prov/self.xml)" = 200
check "the daemon kept its pid" kill -0 $PID
has "reload logged" sprovd.log "reloaded the configuration, certificates, client CAs, CRL"
echo garbage > ca/crl/device-ca.crl
kill -HUP $PID
sleep 0.5
has "a broken CRL is refused, the old one keeps serving" sprovd.log \
    "reload refused"
check "still serving after a refused reload" test "$(code dev/000e08000001 \
    /prov/self.xml)" = 200
$CA crl >/dev/null
# A configuration change through SIGHUP: limits and policy, no restart.
check "unknown device refused before the reload" test "$(code \
    dev/000e08000004 /prov/self.xml)" = 403
echo "unknown_devices register" >> sprovd.conf
echo "prefix /provisioning" >> sprovd.conf
kill -HUP $PID
sleep 0.5
check "after SIGHUP: the new prefix serves" test "$(code dev/000e08000001 \
    /provisioning/prov/self.xml)" = 200
check "after SIGHUP: the old prefix is gone" test "$(code dev/000e08000001 \
    /prov/self.xml)" = 404
check "after SIGHUP: the new unknown-device policy applies" test "$(code \
    dev/000e08000004 /provisioning/prov/self.xml)" = 200
echo "workers 7" >> sprovd.conf
sed -i 's/^workers 2$//' sprovd.conf
kill -HUP $PID
sleep 0.5
has "a restart-only change is named, not applied" sprovd.log \
    "need a restart and keep their old values"
echo "max_header nonsense" >> sprovd.conf
kill -HUP $PID
sleep 0.5
has "a bad configuration is refused with its line" sprovd.log \
    "reload refused, the old configuration keeps serving: sprovd.conf:"
check "still serving after a refused reload" test "$(code dev/000e08000001 \
    /provisioning/prov/self.xml)" = 200
stop
$ST delete 000e08000004 >/dev/null

# Unknown devices registered when the policy says so.
write_conf <<< "unknown_devices register"
start
check "register policy: an unknown device gets a profile" test "$(code \
    dev/000e08000004 /prov/self.xml)" = 200
sleep 0.3
check "register policy: the device is now in the store" sh -c \
    "$ST device-show 000e08000004 | grep -q 'model=CP-8841-3PCC'"

# 1,000 keep-alive connections at once, each answered twice.
check "1,000 concurrent keep-alive connections served" $FLOOD 127.0.0.1 \
    $PORT $NAME dev/000e08000001.crt dev/000e08000001.key \
    ca/server-ca.crt 1000 /prov/self.xml

# kill -9 during a burst of reports: every 2xx survives.
for i in $(seq 1 60); do
	printf '<flat-profile><Seq>%d</Seq></flat-profile>' $i > r$i.xml
done
( for i in $(seq 1 60); do
	c=$(code dev/000e08000002 /report/000e08000002.xml \
	    --data-binary @r$i.xml)
	[ "$c" = 204 ] && echo $i >> acked.txt
  done ) &
burst=$!
sleep 0.8
kill -9 $PID
wait $burst 2>/dev/null
wait $PID 2>/dev/null
acked=$(wc -l < acked.txt 2>/dev/null || echo 0)
last=$(tail -1 acked.txt 2>/dev/null)
check "some reports were acknowledged before kill -9 ($acked)" test "$acked" -ge 1
# The reports go one after another: the store holds the last acknowledged
# one, or the next if kill -9 came between its commit and its 204.
stored=$($ST report 000e08000002 | sed -n 's/.*<Seq>\([0-9]*\)<\/Seq>.*/\1/p')
check "the last acknowledged report is stored ($last, store has $stored)" \
    test -n "$stored" -a -n "$last" -a \( "$stored" = "$last" -o \
    "$stored" = "$((last + 1))" \)
stop

# Admission control: past max_connections, refused before any TLS work.
write_conf <<< "max_connections 16"
start
$FLOOD 127.0.0.1 $PORT $NAME dev/000e08000001.crt dev/000e08000001.key \
    ca/server-ca.crt 40 /prov/self.xml > adm.txt
check "admission control: 16 served, the rest refused" grep -q \
    "opened 16 refused 24 first-200 16 second-200 16" adm.txt
stop

# Out of descriptors: connections refused, the server stays responsive.
write_conf < /dev/null
rm -f listen.txt
prlimit --nofile=64 $SPROVD -d -f sprovd.conf 2>>sprovd.log &
PID=$!
for i in $(seq 1 100); do [ -s listen.txt ] && break; sleep 0.05; done
PORT=$(head -1 listen.txt | sed 's/.*://')
timeout 60 $FLOOD 127.0.0.1 $PORT $NAME dev/000e08000001.crt \
    dev/000e08000001.key ca/server-ca.crt 100 /prov/self.xml > emfile.txt
check "EMFILE: some connections refused" sh -c "! grep -q 'refused 0 ' \
    emfile.txt"
check "EMFILE: the accepted ones served" grep -qE \
    "opened ([0-9]+) refused [0-9]+ first-200 \1 second-200 \1" emfile.txt
check "EMFILE: served again once descriptors are back" test "$(code \
    dev/000e08000001 /prov/self.xml)" = 200
has "EMFILE logged" sprovd.log "out of file descriptors"
stop

# Privilege separation (root with a user): the parent keeps root to read
# keys and configuration and supervises; the server process runs as user,
# cannot gain privileges, is not dumpable, is replaced on SIGHUP and
# restarted when it dies.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"		# mktemp -d made it 0700: nobody could not reach var
	chown -R nobody var
	write_conf <<< "user nobody"
	: > sprovd.log
	start
	child() { pgrep -P $PID | head -1; }
	C1=$(child)
	check "privsep: the parent keeps root" test "$(awk '/^Uid:/ {print $2}' \
	    /proc/$PID/status)" = 0
	check "privsep: the server process runs as the configured user" test \
	    "$(awk '/^Uid:/ {print $2}' /proc/$C1/status)" = "$(id -u nobody)"
	check "privsep: the server process has no new privileges" test \
	    "$(awk '/^NoNewPrivs:/ {print $2}' /proc/$C1/status)" = 1
	check "privsep: the server process is not dumpable (its /proc is root's)" \
	    test "$(stat -c %u /proc/$C1/environ)" = 0
	check "privsep: the server process's user cannot read the key files" \
	    sh -c "! su -s /bin/sh nobody -c 'cat $T/srv-ec.key' 2>/dev/null"
	check "privsep: serves and stores as that user" test "$(code \
	    dev/000e08000001 /report/000e08000001.xml --data-binary \
	    @report.xml)" = 204
	# The server process's own mount view: the store's directory and the
	# firmware directory, nothing else (no keys, no configuration).
	R=/proc/$C1/root
	if grep -q "no empty mount view" sprovd.log; then
		# A container without CAP_SYS_ADMIN: sprovd says so and goes on.
		skip "privsep: the server process's mount view" "$(sed -n \
		    's/.*no empty mount view (\(.*\)).*/\1/p' sprovd.log | head -1)"
	else
	check "privsep: its view holds the store" test -e "$R$T/var/sprov.db"
	check "privsep: its view holds no key, certificate or configuration" \
	    sh -c "! ls '$R$T/srv-ec.key' '$R$T/srv-ec.crt' '$R$T/sprovd.conf' \
	    '$R$T/ca' '$R/etc/passwd' 2>/dev/null | grep -q ."
	check "privsep: its firmware directory is read-only" sh -c \
	    "! touch '$R$T/fw/x' 2>/dev/null"
	check "privsep: the rest of its view is read-only" sh -c \
	    "! touch '$R/x' 2>/dev/null"
	fi
	check "privsep: firmware served from the view" test "$(code \
	    dev/000e08000001 /fw/sip88xx.11-3-1.loads)" = 200
	kill -HUP $PID
	sleep 1
	C2=$(child)
	check "privsep: SIGHUP starts a new server process ($C1 -> $C2)" \
	    test -n "$C2" -a "$C2" != "$C1"
	check "privsep: the old one has drained and gone" sh -c \
	    "! kill -0 $C1 2>/dev/null"
	has "privsep: the handover is logged" sprovd.log "replaces $C1"
	check "privsep: served after the reload" test "$(code dev/000e08000001 \
	    /prov/self.xml)" = 200
	echo "max_header nonsense" >> sprovd.conf
	kill -HUP $PID
	sleep 0.5
	has "privsep: a bad configuration is refused" sprovd.log \
	    "reload refused, the old configuration keeps serving: sprovd.conf:"
	check "privsep: ... and the server process is the same" test \
	    "$(child)" = "$C2"
	sed -i '/^max_header nonsense$/d' sprovd.conf
	kill -9 $C2
	sleep 1.5
	C3=$(child)
	check "privsep: a killed server process is restarted ($C3)" test \
	    -n "$C3" -a "$C3" != "$C2"
	has "privsep: the death is logged" sprovd.log "killed by signal 9"
	check "privsep: served by the restarted process" test "$(code \
	    dev/000e08000001 /prov/self.xml)" = 200
	stop
	check "privsep: SIGTERM to the parent stops every process" sh -c \
	    "! kill -0 $C3 2>/dev/null"
	chown -R root var
	chmod 700 "$T"
else
	skip "privilege separation" "needs root and a user nobody"
fi

# Session resumption across processes that share a ticket key file.
check "sprovd -T creates a ticket key file" $SPROVD -T "$T/tickets.keys"
check "the ticket key file is 0600" test "$(stat -c %a tickets.keys)" = 600
write_conf <<< "ticket_keys $T/tickets.keys"
sed "s|listen_report .*|listen_report $T/listenB.txt|" sprovd.conf > B.conf
start
$SPROVD -d -f B.conf 2>>sprovd.log &
PIDB=$!
for i in $(seq 1 100); do [ -s listenB.txt ] && break; sleep 0.05; done
PORTB=$(head -1 listenB.txt | sed 's/.*://')
sess() {	# port device session-option file [tls version]
	printf 'GET /prov/self.xml HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' \
	    $NAME | timeout 8 openssl s_client -connect 127.0.0.1:$1 \
	    -servername $NAME ${5:--tls1_3} -cert $2.crt -key $2.key \
	    -CAfile ca/server-ca.crt $3 $4 -ign_eof 2>&1
}
sess $PORT dev/000e08000001 -sess_out s1.pem > a.txt
sess $PORTB dev/000e08000001 -sess_in s1.pem > b.txt
check "a TLS 1.3 session from one process resumes on another" grep -q \
    "^Reused, TLSv1.3" b.txt
check "the resumed session keeps the device's identity" grep -q \
    "^HTTP/1.1 200" b.txt
sess $PORT dev/000e08000001 -sess_out s2.pem -tls1_2 > a2.txt
sess $PORTB dev/000e08000001 -sess_in s2.pem -tls1_2 > b2.txt
check "a TLS 1.2 session resumes on another process" grep -q \
    "^Reused, TLSv1.2" b2.txt
sess $PORT dev/000e08000003 -sess_out s3.pem > a3.txt
$SPROVD -T "$T/tickets.keys"
kill -HUP $PID $PIDB
sleep 0.5
sess $PORTB dev/000e08000001 -sess_in s1.pem > b4.txt
check "after a key rotation, tickets under the old key still resume" grep -q \
    "^Reused, TLSv1.3" b4.txt
$CA revoke --mac 000e08000003 >/dev/null && $CA crl >/dev/null
kill -HUP $PID $PIDB
sleep 0.5
sess $PORTB dev/000e08000003 -sess_in s3.pem > b5.txt
check "a revoked device cannot resume its session" sh -c "! grep -q \
    '^HTTP/1.1' b5.txt"
has "the refused resumption is logged" sprovd.log "resumed session: client certificate: certificate revoked"
kill $PIDB
wait $PIDB 2>/dev/null
stop

# The audit trail.
check "audit chain verifies" $ST audit-verify
check "the audit table refuses updates" sh -c "sqlite3 var/sprov.db \
    'UPDATE audit SET status = 200 WHERE status = 403' 2>&1 |
    grep -q 'append-only'"
# Someone with the file drops the guard and rewrites a refusal as a success.
sqlite3 var/sprov.db "DROP TRIGGER audit_no_update; UPDATE audit SET \
    status = 200 WHERE seq = (SELECT MIN(seq) FROM audit WHERE status = 403)"
refuse "an edited audit row is detected" 1 "audit chain broken" \
    $ST audit-verify
# Under the sanitizer build, the daemon's own reports land in its log.
check "no sanitizer report from sprovd" sh -c "! grep -E \
    'Sanitizer|runtime error' sprovd.log"
done_testing
