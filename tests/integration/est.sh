#!/usr/bin/env bash
# sprov-ca serve: EST (RFC 7030) against curl and the openssl CLI, as a
# provider's scripts would use it: the CA certificates, enrolment of a
# provisioning-server CSR made by `openssl req` with an account, and every
# refusal with its reason.
. "$(dirname "$0")/lib/tap.sh"
CA="$SPROV_CA -d ca"
NAME=ca.portal.test

$CA init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout portal.key -out portal.csr -subj "/CN=$NAME" 2>/dev/null
chmod 600 portal.key
$CA sign-server portal.csr -o portal.crt 2>/dev/null
printf 'correct horse battery\n' > pw
chmod 600 pw
$CA account org-add "Telco SA"
$CA account domain-add "Telco SA" telco.net
$CA account user-add "Telco SA" ops@telco --passphrase-file pw
$CA account org-add "Other Inc"
$CA account domain-add "Other Inc" other.net
$CA account user-add "Other Inc" dev@other --passphrase-file pw
cat > portal.conf <<EOF
listen 127.0.0.1:0
listen_report $T/listen.txt
cert $T/portal.crt
key $T/portal.key
EOF
# Two listeners (IPv4 and IPv6 loopback), both served.
sed "s|$T/listen.txt|$T/two.txt|" portal.conf > two.conf
echo "listen [::1]:0" >> two.conf
$CA serve -f two.conf 2>two.log &
TPID=$!
for i in $(seq 1 100); do [ -s two.txt ] && break; sleep 0.05; done
check "two listen lines: two addresses reported" test "$(wc -l < two.txt)" = 2
for a in $(cat two.txt); do
	host=${a%:*}; host=${host#[}; host=${host%]}
	check "... $a serves EST" sh -c "curl -sS --max-time 10 --cacert \
	    ca/server-ca.crt --resolve '$NAME:${a##*:}:$host' \
	    https://$NAME:${a##*:}/.well-known/est/cacerts | base64 -d |
	    openssl pkcs7 -inform DER -print_certs >/dev/null"
done
kill $TPID; wait $TPID 2>/dev/null
$CA serve -f portal.conf 2>serve.log &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
for i in $(seq 1 100); do [ -s listen.txt ] && break; sleep 0.05; done
PORT=$(sed 's/.*://' listen.txt)
check "sprov-ca serve listens" test -n "$PORT"
est() {	# path [curl options]: body to stdout, status to est.code
	local p=$1; shift
	curl -sS --max-time 10 --cacert ca/server-ca.crt \
	    --resolve "$NAME:$PORT:127.0.0.1" -w '%{http_code}' -o est.body \
	    "$@" "https://$NAME:$PORT/.well-known/est$p" > est.code
	cat est.body
}
csr() {	# cn [openssl req options]: base64 of a DER CSR
	openssl req -new -nodes -keyout "$1.key" -subj "/CN=$1" -outform DER \
	    "${@:2}" 2>/dev/null | base64
}
enroll() {	# user:password file
	est /simpleenroll -u "$1" -H "Content-Type: application/pkcs10" \
	    --data-binary "@$2"
}

est /cacerts | base64 -d > cacerts.der
check "cacerts: 200" test "$(cat est.code)" = 200
openssl pkcs7 -inform DER -in cacerts.der -print_certs -out cacerts.pem \
    2>/dev/null
check "cacerts: a PKCS#7 that openssl reads, holding the server CA" \
    cmp <(openssl x509 -in cacerts.pem -noout -fingerprint) \
    <(openssl x509 -in ca/server-ca.crt -noout -fingerprint)

csr pv.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > pv.b64
enroll 'ops@telco:correct horse battery' pv.b64 | base64 -d > pv.p7
cp pv.telco.net.key pv.key
check "simpleenroll: 200" test "$(cat est.code)" = 200
openssl pkcs7 -inform DER -in pv.p7 -print_certs -out pv.crt 2>/dev/null
check "simpleenroll: openssl verify accepts the certificate" \
    openssl verify -CAfile ca/server-ca.crt pv.crt
check "... for the CSR's key" cmp <(openssl x509 -in pv.crt -noout -pubkey) \
    <(openssl pkey -in pv.telco.net.key -pubout)
has "... with the CSR's CN" <(openssl x509 -in pv.crt -noout -subject) \
    "CN = pv.telco.net"
check "... recorded in the CA's index" sh -c "$CA list --kind server |
    grep -q pv.telco.net"
has "the signer process signed it" serve.log "signed CN=pv.telco.net for \
ops@telco (Telco SA)"

csr www.other.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > other.b64
enroll 'ops@telco:correct horse battery' other.b64 >/dev/null
check "a domain outside the account: 403" test "$(cat est.code)" = 403
has "... naming the domain" est.body "www.other.net is not among the \
domains of Telco SA"
csr pv.telco.net -newkey rsa:1024 > weak.b64
enroll 'ops@telco:correct horse battery' weak.b64 >/dev/null
check "an RSA-1024 CSR: 400" test "$(cat est.code)" = 400
has "... naming the key" est.body "2048"
echo 'this is not base64!' > junk.b64
enroll 'ops@telco:correct horse battery' junk.b64 >/dev/null
check "a body that is not base64: 400" test "$(cat est.code)" = 400
has "... saying so" est.body "not base64"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout pem.key -subj "/CN=pv.telco.net" -out pem.csr 2>/dev/null
enroll 'ops@telco:correct horse battery' pem.csr >/dev/null
check "a PEM CSR (EST wants base64 DER): 400" test "$(cat est.code)" = 400

est /simpleenroll -H "Content-Type: application/pkcs10" --data-binary \
    @pv.b64 -D noauth.h >/dev/null
check "no credentials: 401" test "$(cat est.code)" = 401
has "... asking for Basic" noauth.h "WWW-Authenticate: Basic"
enroll 'ops@telco:wrong password here' pv.b64 >/dev/null
check "a wrong password: 401" test "$(cat est.code)" = 401
has "... without saying which part was wrong" est.body \
    "wrong user or password"
enroll 'nobody@telco:correct horse battery' pv.b64 >/dev/null
check "an unknown user: the same 401" test "$(cat est.code)" = 401
enroll 'dev@other:correct horse battery' pv.b64 >/dev/null
check "another organisation's user cannot get telco.net: 403" \
    test "$(cat est.code)" = 403
check "... and nothing was signed for it" test "$(grep -c \
    'signed CN=pv.telco.net' serve.log)" = 1
est /simpleenroll -X GET >/dev/null
check "GET simpleenroll: 405" test "$(cat est.code)" = 405
est /simpleenroll -u 'ops@telco:correct horse battery' -H \
    "Content-Type: application/x-www-form-urlencoded" --data-binary @pv.b64 \
    >/dev/null
check "simpleenroll with another Content-Type: 415" \
    test "$(cat est.code)" = 415
est /nothing >/dev/null
check "an unknown EST path: 404" test "$(cat est.code)" = 404

# Re-enrolment (RFC 7030 4.2.2): the current certificate authenticates
# (TLS client certificate), the new CSR keeps its subject.
reenroll() {	# cert key csr.b64 [curl options]
	est /simplereenroll --cert "$1" --key "$2" -H \
	    "Content-Type: application/pkcs10" --data-binary "@$3" "${@:4}"
}
csr pv.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > re.b64
cp pv.telco.net.key re.key
reenroll pv.crt pv.key re.b64 | base64 -d > re.p7
check "simplereenroll with the current certificate: 200" \
    test "$(cat est.code)" = 200
openssl pkcs7 -inform DER -in re.p7 -print_certs -out re.crt 2>/dev/null
check "... a certificate openssl verify accepts" \
    openssl verify -CAfile ca/server-ca.crt re.crt
check "... for the new key" cmp <(openssl x509 -in re.crt -noout -pubkey) \
    <(openssl pkey -in pv.telco.net.key -pubout)
check "... not the old serial" sh -c "test \"$(openssl x509 -in re.crt \
    -noout -serial)\" != \"$(openssl x509 -in pv.crt -noout -serial)\""
reenroll pv.crt pv.key other.b64 >/dev/null
check "re-enrolment for another CN: 400" test "$(cat est.code)" = 400
has "... saying the CN differs" est.body "CN differs"
est /simplereenroll -H "Content-Type: application/pkcs10" \
    --data-binary @re.b64 >/dev/null
check "re-enrolment without a client certificate: 401" \
    test "$(cat est.code)" = 401
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout self.key -out self.crt -subj "/CN=pv.telco.net" -days 2 \
    2>/dev/null
reenroll self.crt self.key re.b64 >/dev/null
check "re-enrolment with a certificate of another CA: 401" \
    test "$(cat est.code)" = 401
has "... saying why" est.body "not valid under this CA"
$CA revoke --serial "$(openssl x509 -in re.crt -noout -serial |
    cut -d= -f2)" >/dev/null
csr pv.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > re2.b64
reenroll re.crt re.key re2.b64 >/dev/null
check "re-enrolment with a revoked certificate: refused" \
    test "$(cat est.code)" = 400
has "... saying it is revoked" est.body "revoked"

# Devices renew their own certificates only when the operator says so.
$CA issue-device --mac 00:11:22:33:44:55 --serial SN1 \
    --model CP-8841-3PCC -o dev >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout dev/new.key -outform DER -subj \
    "/OU=CP-8841-3PCC/L=SN1/ST=001122334455/CN=001122334455" 2>/dev/null |
    base64 > dev.b64
reenroll dev/001122334455.crt dev/001122334455.key dev.b64 >/dev/null
check "device renewal while not enabled: 403" test "$(cat est.code)" = 403
has "... naming the setting" est.body "device_renewal"

# Hostile requests to the pages (the browser suite, portal.sh, drives
# them as a provider would).
U="https://$NAME:$PORT"
page() {	# curl options... URL: status in page.code, body in page.body
	curl -sS --max-time 10 --cacert ca/server-ca.crt \
	    --resolve "$NAME:$PORT:127.0.0.1" -o page.body -w '%{http_code}' \
	    -b jar -c jar "$@" > page.code
}
page -H "Cookie: a=b" -H "Cookie: c=d" "$U/certs"
check "pages: two Cookie headers: 400" test "$(cat page.code)" = 400
page "$U/login"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' page.body | cut -d'"' -f4)
check "pages: the login form carries a CSRF token" test ${#csrf} = 64
page --data-urlencode "csrf=$csrf" --data-urlencode "user=ops@telco" \
    --data-urlencode "password=correct horse battery" "$U/login"
check "pages: login with curl: 303" test "$(cat page.code)" = 303
page "$U/certs"
check "pages: /certs with the session: 200" test "$(cat page.code)" = 200
has "pages: ... listing what EST issued" page.body "pv.telco.net"
sid=$(awk '$6 == "__Host-sprov" { print $7 }' jar)
page -b "__Host-sprov=$sid; __Host-sprov=$sid" "$U/certs"
check "pages: the session cookie given twice (cookie tossing): no session" \
    test "$(cat page.code)" = 303
# A session follows its account: a new password or a disabled account
# ends it at the next request.
printf 'another good passphrase\n' > pw3; chmod 600 pw3
$CA account user-add "Telco SA" s@telco --passphrase-file pw
weblogin() {	# user password: a session in jar
	rm -f jar
	page "$U/login"
	csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' page.body | cut -d'"' -f4)
	page --data-urlencode "csrf=$csrf" --data-urlencode "user=$1" \
	    --data-urlencode "password=$2" "$U/login"
}
weblogin s@telco "correct horse battery"
page "$U/certs"
check "pages: s@telco logged in" test "$(cat page.code)" = 200
$CA account passwd s@telco --passphrase-file pw3
page "$U/certs"
check "pages: a new password ends the session" test "$(cat page.code)" = 303
weblogin s@telco "another good passphrase"
page "$U/certs"
check "... the new one logs in" test "$(cat page.code)" = 200
$CA account disable s@telco
page "$U/certs"
check "pages: disabling the account ends the session" \
    test "$(cat page.code)" = 303
weblogin ops@telco "correct horse battery"
page "$U/new"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' page.body | head -1 |
    cut -d'"' -f4)
for p in /cert/abc /cert/-1 /cert/99999 /cert/1/nothing; do
	page "$U$p"
	check "pages: $p: 404" test "$(cat page.code)" = 404
done
page "$U/cert/..%2f..%2fetc"
check "pages: an encoded dot segment: refused" sh -c \
    "test $(cat page.code) = 400 || test $(cat page.code) = 404"
head -c 200000 /dev/zero | tr '\0' a > big.txt
page -F "csrf=$csrf" -F "csr=<big.txt" "$U/new"
check "pages: a body over the limit: 413" test "$(cat page.code)" = 413
page -H "Content-Type: multipart/form-data; boundary=XyZ" \
    --data-binary $'--XyZ\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'"$csrf" \
    "$U/new"
check "pages: a multipart body without its closing boundary: 403" \
    test "$(cat page.code)" = 403
has "pages: ... saying why" page.body "boundary"

# Login throttling: five failures lock the user out, even with the
# right password then.
for i in 1 2 3 4 5; do
	enroll 'ops@telco:wrong password again' pv.b64 >/dev/null
done
est /simpleenroll -u 'ops@telco:correct horse battery' -H \
    "Content-Type: application/pkcs10" --data-binary @pv.b64 -D thr.h \
    >/dev/null
check "after five failures, the right password: 429" \
    test "$(cat est.code)" = 429
has "... with Retry-After" thr.h "Retry-After:"

# One address holding connections open (slowloris) takes only its share.
for fd in 3 4 5 6 7 8 9 10; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
done
sleep 0.3
est /cacerts >/dev/null 2>&1
check "an address with 8 idle connections open gets no ninth" \
    test "$(cat est.code)" = 000
est /cacerts --interface 127.0.0.2 >/dev/null
check "... while another address is served" test "$(cat est.code)" = 200
for fd in 3 4 5 6 7 8 9 10; do
	eval "exec $fd>&-"
done
sleep 0.3
est /cacerts >/dev/null
check "... and the first is served again once they close" \
    test "$(cat est.code)" = 200

# The portal process holds no CA key: the signer (its child) does.
kid=$(pgrep -P $PID | head -1)
check "a signer process runs beside the portal" test -n "$kid"
check "the portal process has no CA key file open" sh -c "! ls -l \
    /proc/$PID/fd 2>/dev/null | grep -q '\\.key'"
kill $PID
wait $PID 2>/dev/null
st=$?
check "SIGTERM: the portal stops cleanly (exit 0)" test "$st" = 0
has "... saying so" serve.log "sprov-ca serve: stopped"
sleep 0.2
# Gone, or a zombie nobody has reaped yet: not running.
check "the signer ends with the portal" sh -c "! ps -p $kid -o stat= |
    grep -qv Z"
check "no sanitizer report from sprov-ca serve" sh -c "! grep -E \
    'Sanitizer|runtime error' serve.log"

start() {	# conf log: starts a portal, sets PID and PORT
	rm -f listen.txt
	$CA serve -f "$1" 2>"$2" &
	PID=$!
	for i in $(seq 1 100); do [ -s listen.txt ] && break; sleep 0.05; done
	PORT=$(sed 's/.*://' listen.txt)
}
# As root, the other portals run as nobody (the signer keeps root and
# the CA key); everything below must work that way.
AS=
if [ "$(id -u)" = 0 ]; then
	AS="user nobody"
fi
cp portal.conf dev.conf
printf '%s\n' "device_renewal yes" "$AS" >> dev.conf
start dev.conf dev.log
if [ -n "$AS" ]; then
	# It switches just after the listen report (written as root).
	for i in $(seq 1 100); do
		grep -E '^Uid:' /proc/$PID/status | grep -qw "$(id -u nobody)" &&
		    break
		sleep 0.05
	done
	check "user nobody: the portal process runs as nobody" sh -c \
	    "grep -E '^Uid:' /proc/$PID/status | grep -qw $(id -u nobody)"
	kid=$(pgrep -P $PID | head -1)
	check "... its signer keeps root" sh -c \
	    "grep -E '^Uid:' /proc/$kid/status | grep -qw 0"
else
	skip "user nobody" "not root: no user to switch to"
fi
reenroll dev/001122334455.crt dev/001122334455.key dev.b64 | base64 -d \
    > dev.p7
check "device renewal enabled: 200" test "$(cat est.code)" = 200
openssl pkcs7 -inform DER -in dev.p7 -print_certs -out dev/renewed.crt \
    2>/dev/null
check "... a device certificate under the device CA" \
    openssl verify -CAfile ca/device-ca.crt dev/renewed.crt
check "... with the same subject" cmp \
    <(openssl x509 -in dev/renewed.crt -noout -subject) \
    <(openssl x509 -in dev/001122334455.crt -noout -subject)
check "... for the device's new key" cmp \
    <(openssl x509 -in dev/renewed.crt -noout -pubkey) \
    <(openssl pkey -in dev/new.key -pubout)
check "... recorded in the index for its MAC" sh -c "$CA list --mac \
    001122334455 | grep -c valid | grep -qx 2"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout dev/x.key -outform DER -subj \
    "/OU=CP-8841-3PCC/L=SN1/ST=0011223344AA/CN=0011223344AA" 2>/dev/null |
    base64 > devx.b64
reenroll dev/001122334455.crt dev/001122334455.key devx.b64 >/dev/null
check "a device asking for another MAC: 400" test "$(cat est.code)" = 400
has "... saying the subject differs" est.body "subject differs"

# The phone's side: sprov-agent renew, with the portal verified as phones
# verify servers (chain, CN rule, the address among the name's in DNS).
AGENT_OK=
if [ -n "${SPROV_AGENT:-}" ]; then
	. "$TESTLIB/dns.sh"
	dns_start --local=/portal.test/ --host-record=$NAME,127.0.0.1 &&
	    AGENT_OK=1
	trap 'kill $PID $DNSPID 2>/dev/null; rm -rf "$T"' EXIT
fi
if [ -n "$AGENT_OK" ]; then
	AG="$SPROV_AGENT -s ag"
	$CA issue-device --mac 00:11:22:33:44:bb --serial SN2 \
	    --model CP-8851-3PCC -o dev2 >/dev/null
	$AG init --cert dev2/0011223344bb.crt --key dev2/0011223344bb.key \
	    --server-ca ca/server-ca.crt >/dev/null
	$AG set Primary_DNS 127.0.0.1:$DP
	cp ag/identity.crt ag-old.crt
	cp ag/identity.key ag-old.key
	ESTURL="https://$NAME:$PORT/.well-known/est/simplereenroll"
	refuse "agent renew: an http:// URL is refused" 1 "https://" \
	    $AG renew "http://$NAME:$PORT/.well-known/est/simplereenroll"
	check "agent renew: a new certificate from the portal" \
	    $AG renew "$ESTURL"
	check "... under the device CA" \
	    openssl verify -CAfile ca/device-ca.crt ag/identity.crt
	check "... same subject" cmp \
	    <(openssl x509 -in ag/identity.crt -noout -subject) \
	    <(openssl x509 -in ag-old.crt -noout -subject)
	check "... a new key, the certificate's" sh -c "! cmp -s \
	    ag/identity.key ag-old.key && test \"\$(openssl x509 -in \
	    ag/identity.crt -noout -pubkey)\" = \"\$(openssl pkey -in \
	    ag/identity.key -pubout)\""
	check "... the key file 0600" test "$(stat -c %a ag/identity.key)" = 600
	check "... nothing left beside it" sh -c "! ls ag | grep -q new"
	check "... the agent loads its new identity" sh -c "$AG show >/dev/null"
	# A renewal cut between its two renames: new key, old certificate,
	# the new certificate beside them.  The next start completes it.
	cp ag/identity.crt new.crt
	cp ag-old.crt ag/identity.crt
	cp new.crt ag/identity.crt.new
	$AG show >/dev/null 2>&1
	check "a renewal cut short is completed at the next start" \
	    cmp ag/identity.crt new.crt
	# Cut before: the new pair beside an intact old identity: dropped.
	cp ag/identity.key ag/identity.key.new
	cp ag-old.crt ag/identity.crt.new
	$AG show >/dev/null 2>&1
	check "... one cut before its renames is dropped, identity intact" \
	    sh -c "cmp ag/identity.crt new.crt && ! ls ag | grep -q new"
	# run: renewed by itself once fewer than Cert_Renew_Days are left.
	AG2="$SPROV_AGENT -s ag2"
	$CA issue-device --mac 00:11:22:33:44:cc --days 10 -o dev3 >/dev/null
	$AG2 init --cert dev3/0011223344cc.crt --key dev3/0011223344cc.key \
	    --server-ca ca/server-ca.crt >/dev/null
	$AG2 set Primary_DNS 127.0.0.1:$DP
	$AG2 set Resync_Random_Delay 0
	$AG2 set Profile_Rule "https://$NAME:$PORT/nothing.xml"
	$AG2 set Cert_Renew_Rule "$ESTURL"
	$AG2 set Cert_Renew_Days 5
	cp ag2/identity.crt ag2-old.crt
	$AG2 -d run 2>run1.log &
	APID=$!
	for i in $(seq 1 100); do grep -q "Resync failed" run1.log && break
		sleep 0.05; done
	sleep 0.5
	kill $APID; wait $APID 2>/dev/null
	check "agent run: 10 days left, Cert_Renew_Days 5: not renewed" \
	    cmp ag2/identity.crt ag2-old.crt
	$AG2 set Cert_Renew_Days 30
	$AG2 -d run 2>run2.log >run2.out &
	APID=$!
	for i in $(seq 1 100); do cmp -s ag2/identity.crt ag2-old.crt ||
		break; sleep 0.05; done
	sleep 0.2
	kill $APID; wait $APID 2>/dev/null
	check "agent run: Cert_Renew_Days 30: renewed by itself" sh -c \
	    "! cmp -s ag2/identity.crt ag2-old.crt"
	has "... saying so" run2.log "certificate expires in"
	# The renewed certificate keeps the lifetime of the current one.
	na() { date -d "$(openssl x509 -in "$1" -noout -enddate |
	    cut -d= -f2)" +%s; }
	check "... a certificate that ends no sooner, same lifetime" \
	    sh -c "test $(na ag2/identity.crt) -ge $(na ag2-old.crt) &&
	    openssl x509 -in ag2/identity.crt -noout -checkend \
	    $((9 * 86400)) >/dev/null"
else
	skip "agent renew" "SPROV_AGENT not set or no dnsmasq (run by tests/run)"
fi
# A portal whose signer died stops (for its supervisor), saying why.
kid=$(pgrep -P $PID | head -1)
kill -9 "$kid"
sleep 0.2
reenroll dev/001122334455.crt dev/001122334455.key dev.b64 >/dev/null
check "the signer killed: the request fails (503)" test "$(cat est.code)" = 503
for i in $(seq 1 100); do kill -0 $PID 2>/dev/null || break; sleep 0.05; done
wait $PID 2>/dev/null
st=$?
check "... and the portal stops with an error" test "$st" = 1
has "... saying why" dev.log "the signer process is gone"

# Queue mode: no signer, the operator approves offline.
cp portal.conf queue.conf
printf '%s\n' "mode queue" "$AS" >> queue.conf
start queue.conf queue.log
check "queue mode: no signer process" sh -c "test -z \"\$(pgrep -P $PID)\""
csr q1.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > q1.b64
est /simpleenroll -u 'dev@other:correct horse battery' -H \
    "Content-Type: application/pkcs10" --data-binary @q1.b64 >/dev/null
check "queue: a domain outside the account still 403 at once" \
    test "$(cat est.code)" = 403
printf 'correct horse battery\n' > pw2; chmod 600 pw2
$CA account user-add "Telco SA" q@telco --passphrase-file pw2
qenroll() { est /simpleenroll -u 'q@telco:correct horse battery' -H \
    "Content-Type: application/pkcs10" --data-binary "@$1" -D q.h; }
qenroll q1.b64 >/dev/null
check "queue: simpleenroll answers 202" test "$(cat est.code)" = 202
has "... with Retry-After" q.h "Retry-After: 600"
qid=$($CA requests | awk -F'\t' '$5 == "q1.telco.net" { print $1 }')
check "sprov-ca requests lists it" test -n "$qid"
qenroll q1.b64 >/dev/null
check "posted again before approval: 202 again" test "$(cat est.code)" = 202
check "... the same request, not a second one" test "$($CA requests |
    grep -c q1.telco.net)" = 1
check "sprov-ca approve signs it" sh -c "$CA approve $qid | grep -q \
    'signed CN=q1.telco.net'"
qenroll q1.b64 | base64 -d > q1.p7
check "posted again after approval: 200" test "$(cat est.code)" = 200
openssl pkcs7 -inform DER -in q1.p7 -print_certs -out q1.crt 2>/dev/null
check "... the certificate, openssl verify accepts it" \
    openssl verify -CAfile ca/server-ca.crt q1.crt
refuse "approve twice: refused" 1 "nothing waits" $CA approve $qid
cp q1.telco.net.key q1.key
# Re-enrolment waits for the operator too, and is checked again then.
csr q1.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > q1r.b64
csr q9.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > q9.b64
reenroll q1.crt q1.key q9.b64 >/dev/null
check "queue: re-enrolment for another CN: 400 at once" \
    test "$(cat est.code)" = 400
reenroll q1.crt q1.key q1r.b64 >/dev/null
check "queue: re-enrolment with the current certificate: 202" \
    test "$(cat est.code)" = 202
rid=$($CA requests | awk -F'\t' '$2 == "reenroll" { print $1 }')
check "... listed as reenroll" test -n "$rid"
check "... approved" $CA approve "$rid"
csr q1.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > q1s.b64
reenroll q1.crt q1.key q1s.b64 >/dev/null
rid2=$($CA requests | awk -F'\t' '$2 == "reenroll" { print $1 }')
$CA revoke --serial "$(openssl x509 -in q1.crt -noout -serial |
    cut -d= -f2)" >/dev/null
refuse "... but not once the certificate that asked is revoked" 1 \
    "has been revoked" $CA approve "$rid2"
qenroll q1.b64 >/dev/null
check "queue: the same CSR after its certificate was revoked: 403" \
    test "$(cat est.code)" = 403
has "... saying so" est.body "revoked"
csr q2.telco.net -newkey ec -pkeyopt ec_paramgen_curve:P-256 > q2.b64
qenroll q2.b64 >/dev/null
qid2=$($CA requests | awk -F'\t' '$5 == "q2.telco.net" { print $1 }')
refuse "reject needs a reason" 1 "--why" $CA reject "$qid2"
check "sprov-ca reject --why" $CA reject "$qid2" --why "CN not ours"
qenroll q2.b64 >/dev/null
check "posted again after rejection: 403" test "$(cat est.code)" = 403
has "... with the operator's reason" est.body "CN not ours"
# SIGHUP: the portal's own certificate read again (as nobody: with the
# key in use; a certificate for another key is refused, the old one kept).
served() { openssl s_client -connect 127.0.0.1:$PORT -servername $NAME \
    </dev/null 2>/dev/null | openssl x509 -noout -serial; }
openssl req -new -key portal.key -subj "/CN=$NAME" -out portal2.csr
$CA sign-server portal2.csr -o portal2.crt 2>/dev/null
cp portal2.crt portal.crt
chmod 711 "$T"	# the certificate must be readable by `user`
kill -HUP $PID
for i in $(seq 1 40); do grep -q reloaded queue.log && break; sleep 0.05; done
check "SIGHUP: the renewed portal certificate is served" test \
    "$(served)" = "$(openssl x509 -in portal2.crt -noout -serial)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout portal3.key -subj "/CN=$NAME" -out portal3.csr 2>/dev/null
$CA sign-server portal3.csr -o portal3.crt 2>/dev/null
cp portal3.crt portal.crt
kill -HUP $PID
for i in $(seq 1 40); do grep -q "reload refused" queue.log && break
	sleep 0.05; done
if [ -n "$AS" ]; then
	has "SIGHUP as nobody, a certificate for another key: refused" \
	    queue.log "reload refused"
	check "... and the previous certificate still served" test \
	    "$(served)" = "$(openssl x509 -in portal2.crt -noout -serial)"
fi
cp portal2.crt portal.crt
if [ -n "$AGENT_OK" ]; then
	cp ag/identity.crt before.crt
	refuse "agent renew where device renewal is off: refused" 1 \
	    "device_renewal" $AG renew "https://$NAME:$PORT/.well-known/est/\
simplereenroll"
	check "... the identity unchanged" cmp ag/identity.crt before.crt
fi
check "the portal's audit trail verifies" sh -c "$CA audit --verify |
    grep -q 'chain intact'"
has "... and holds the approval" <($CA audit) "approve"
has "... and the re-enrolment" <($CA audit) "reenroll"
has "... and the device renewal" <($CA audit) "device-renew"
kill $PID; wait $PID 2>/dev/null
check "no sanitizer report from the other portals" sh -c "! grep -E \
    'Sanitizer|runtime error' dev.log queue.log"
done_testing
