#!/usr/bin/env bash
# sprov-ca against the real openssl command line: CSRs made by `openssl req`
# are signed and verified by `openssl verify`; every bad CSR is refused with
# a message naming the problem and leaves the CA byte-for-byte unchanged.
. "$(dirname "$0")/lib/tap.sh"
CA="$SPROV_CA -d ca"

check "init creates a CA" $CA init --org "Telco Lab"
check "CA directory is 0700" test "$(stat -c %a ca)" = 700
for r in server device admin; do
	check "$r-ca key is 0600" test "$(stat -c %a ca/$r-ca.key)" = 600
	check "$r-ca is a self-signed CA" openssl verify -CAfile ca/$r-ca.crt \
	    ca/$r-ca.crt
	openssl x509 -in ca/$r-ca.crt -noout -text > $r.txt
	has "$r-ca has CA:TRUE" $r.txt "CA:TRUE"
	has "$r-ca carries the organisation" $r.txt "O = Telco Lab"
done
check "the three roots are distinct keys" test "$(for r in server device \
    admin; do openssl x509 -in ca/$r-ca.crt -noout -pubkey | sha256sum; done |
    sort -u | wc -l)" = 3
tree_sum ca > before.sum
refuse "init refuses an existing CA" 1 "refusing to touch an existing CA" \
    $CA init
tree_sum ca > after.sum
check "refused init left the CA unchanged" cmp before.sum after.sum

# Good CSRs: RSA 2048 and 4096, P-256, P-384, as `openssl req` makes them.
n=0
for spec in rsa:2048 rsa:4096 ec:P-256 ec:P-384; do
	n=$((n + 1))
	case $spec in
	rsa:*) opt="-newkey $spec" ;;
	ec:*) opt="-newkey ec -pkeyopt ec_paramgen_curve:${spec#ec:}" ;;
	esac
	cn="pv$n.telco.net/mailto:admin@telco.net"
	openssl req -new $opt -nodes -keyout s$n.key -out s$n.csr \
	    -subj "/O=Telco/CN=pv$n.telco.net\/mailto:admin@telco.net" \
	    2>/dev/null
	check "$spec: sign-server accepts the CSR" $CA sign-server s$n.csr \
	    -o s$n.crt --days 90
	check "$spec: openssl verify accepts the certificate" \
	    openssl verify -CAfile ca/server-ca.crt s$n.crt
	refuse "$spec: the certificate does not verify against device-ca" 2 \
	    "unable to get local issuer" openssl verify \
	    -CAfile ca/device-ca.crt s$n.crt
	openssl x509 -in s$n.crt -noout -text > s$n.txt
	has "$spec: subject kept verbatim, free text included" s$n.txt \
	    "Subject: O = Telco, CN = $cn"
	has "$spec: SAN is the FQDN" s$n.txt "DNS:pv$n.telco.net"
	has "$spec: EKU serverAuth" s$n.txt "TLS Web Server Authentication"
	check "$spec: basicConstraints critical CA:FALSE" \
	    grep -A1 -q "Basic Constraints: critical" s$n.txt
	has "$spec: not a CA" s$n.txt "CA:FALSE"
	has "$spec: SHA-256 signature" s$n.txt "ecdsa-with-SHA256"
	has "$spec: SKI" s$n.txt "Subject Key Identifier"
	has "$spec: AKI" s$n.txt "Authority Key Identifier"
	case $spec in
	rsa:*) has "$spec: RSA key usage" s$n.txt \
	    "Digital Signature, Key Encipherment" ;;
	ec:*) check "$spec: EC key usage" grep -A1 "Key Usage: critical" \
	    s$n.txt ;;
	esac
	check "$spec: the key matches the certificate" test \
	    "$(openssl x509 -in s$n.crt -noout -pubkey)" = \
	    "$(openssl pkey -in s$n.key -pubout)"
	serial=$(openssl x509 -in s$n.crt -noout -serial | cut -d= -f2)
	check "$spec: serial is a positive 128-bit number" \
	    test ${#serial} = 32 -a "${serial:0:1}" != 8 -a \
	    "${serial:0:1}" \< 8
done
check "serials are unique" test "$(for i in 1 2 3 4; do openssl x509 \
    -in s$i.crt -noout -serial; done | sort -u | wc -l)" = 4
check "90 days asked, 90 days given" test "$(( ($(date -d "$(openssl x509 \
    -in s1.crt -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))" \
    -ge 89

# A DER CSR and the signed certificate on stdout.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout d.key -outform DER -out d.der -subj "/CN=der.telco.net" 2>/dev/null
check "DER CSR accepted, certificate on stdout" sh -c \
    "$CA sign-server d.der > d.crt"
check "stdout certificate verifies" openssl verify -CAfile ca/server-ca.crt \
    d.crt

# Bad CSRs: each refused, naming the problem; the CA stays byte-for-byte.
mkcsr() {	# name subj [extra req options]
	local name=$1 subj=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout /dev/null -out $name -subj "$subj" "$@" 2>/dev/null
}
mkcsr cn-wild.csr "/CN=*.telco.net"
mkcsr cn-ip.csr "/CN=192.168.1.10"
mkcsr cn-one.csr "/CN=localhost"
mkcsr cn-dot.csr "/CN=pv.telco.net."
mkcsr cn-under.csr "/CN=pv_1.telco.net"
mkcsr cn-hyph.csr "/CN=-pv.telco.net"
mkcsr cn-empty.csr "/CN=pv..telco.net"
mkcsr cn-slash.csr "/CN=pv.telco.net\/"
mkcsr cn-none.csr "/O=Telco/OU=Voice"
mkcsr cn-two.csr "/CN=a.telco.net/CN=b.telco.net"
mkcsr ca-true.csr "/CN=pv.telco.net" -addext \
    "basicConstraints=critical,CA:TRUE"
mkcsr certsign.csr "/CN=pv.telco.net" -addext "keyUsage=keyCertSign"
openssl req -new -newkey rsa:1024 -nodes -keyout /dev/null -out rsa1024.csr \
    -subj "/CN=pv.telco.net" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null -out sha1.csr \
    -subj "/CN=pv.telco.net" -sha1 2>/dev/null
openssl req -new -newkey ed25519 -nodes -keyout /dev/null -out ed.csr \
    -subj "/CN=pv.telco.net" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes \
    -keyout /dev/null -out k1.csr -subj "/CN=pv.telco.net" 2>/dev/null
# Tampered: one byte of the subject changed after signing.
sed 's/pv.telco.net/pw.telco.net/' d.der > /dev/null
openssl req -in s1.csr -outform DER -out good.der
cp good.der tampered.der
off=$(grep -obUa "pv1" tampered.der | head -1 | cut -d: -f1)
printf 'q' | dd of=tampered.der bs=1 seek="$off" conv=notrunc 2>/dev/null
head -c 600 /dev/urandom > garbage.csr
: > empty.csr
head -n 5 s1.csr > truncated.csr
cp s1.crt cert-not-csr.csr

tree_sum ca > before.sum
while read -r file msg; do
	refuse "refused: $file" 1 "$msg" $CA sign-server $file -o out.crt
	check "no output for $file" test ! -e out.crt
done <<'LIST'
cn-wild.csr wildcard
cn-ip.csr IP address
cn-one.csr single label
cn-dot.csr trailing dot
cn-under.csr character other than letters
cn-hyph.csr starts or ends with '-'
cn-empty.csr empty label
cn-slash.csr free text after '/' must not be empty
cn-none.csr the subject has no CN
cn-two.csr more than one CN
ca-true.csr CA:TRUE
certsign.csr keyCertSign
rsa1024.csr 1024-bit RSA key; at least 2048
sha1.csr SHA-1
ed.csr only RSA
k1.csr secp256k1
tampered.der signature does not verify
garbage.csr neither a PEM nor a DER certificate request
empty.csr empty file
truncated.csr truncated PEM
cert-not-csr.csr no CERTIFICATE REQUEST
LIST
refuse "refused: a missing file" 1 "No such file" $CA sign-server nofile.csr
refuse "1024-bit error says how to make a 2048-bit CSR" 1 \
    "openssl req -new -newkey rsa:2048" $CA sign-server rsa1024.csr
tree_sum ca > after.sum
check "refused CSRs left the CA byte-for-byte unchanged" cmp before.sum \
    after.sum

# Devices.
check "issue-device" $CA issue-device --mac 00:0E:08:AB:CD:EF \
    --serial 88012BA01234 --model CP-8841-3PCC -o dev
check "device certificate verifies against device-ca" openssl verify \
    -CAfile ca/device-ca.crt dev/000e08abcdef.crt
refuse "device certificate does not verify against server-ca" 2 \
    "unable to get local issuer" openssl verify -CAfile ca/server-ca.crt \
    dev/000e08abcdef.crt
check "device subject as Cisco phones carry it" test "$(openssl x509 \
    -in dev/000e08abcdef.crt -noout -subject -nameopt compat)" = \
    "subject=/OU=CP-8841-3PCC/L=88012BA01234/ST=000e08abcdef/CN=000e08abcdef"
openssl x509 -in dev/000e08abcdef.crt -noout -text > dev.txt
has "device EKU clientAuth" dev.txt "TLS Web Client Authentication"
check "device key is 0600" test "$(stat -c %a dev/000e08abcdef.key)" = 600
check "device key matches its certificate" test \
    "$(openssl x509 -in dev/000e08abcdef.crt -noout -pubkey)" = \
    "$(openssl pkey -in dev/000e08abcdef.key -pubout)"
check "openssl accepts the device key" openssl pkey -in \
    dev/000e08abcdef.key -check -noout
refuse "a second certificate for a MAC is refused" 1 \
    "already has a valid certificate; give --renew" \
    $CA issue-device --mac 000e08abcdef -o dev
check "--renew issues another" $CA issue-device --mac 000E08ABCDEF --renew \
    -o dev2
refuse "a bad MAC is refused" 1 "--mac '00:0e:08:ab:cd'" \
    $CA issue-device --mac 00:0e:08:ab:cd -o dev
refuse "a bad serial is refused" 1 "serial may hold only" \
    $CA issue-device --mac 000e08000001 --serial "a b" -o dev
check "rsa2048 device for older phones" $CA issue-device --mac 000e08000002 \
    --key-type rsa2048 -o dev
check "rsa2048 device key is RSA" sh -c \
    "openssl pkey -in dev/000e08000002.key -noout -text | grep -q 2048"
printf 'bundle-pass\n' > p12.pass
chmod 600 p12.pass
check "--pkcs12 bundle" $CA issue-device --mac 000e08000003 --pkcs12 \
    --passphrase-file p12.pass -o dev
check "openssl reads the PKCS#12 bundle with its password" sh -c \
    "openssl pkcs12 -in dev/000e08000003.p12 -passin file:p12.pass -nodes \
    2>/dev/null | grep -q 'BEGIN PRIVATE KEY'"
check "the bundle is 0600" test "$(stat -c %a dev/000e08000003.p12)" = 600

# Operators.
check "issue-admin" $CA issue-admin alice -o adm
check "operator verifies against admin-ca" openssl verify \
    -CAfile ca/admin-ca.crt adm/alice.crt
refuse "operator does not verify against device-ca" 2 \
    "unable to get local issuer" openssl verify -CAfile ca/device-ca.crt \
    adm/alice.crt

# Revocation and CRLs.
check "revoke by MAC" $CA revoke --mac 00-0e-08-ab-cd-ef --reason \
    keyCompromise
check "device CRL" $CA crl --ca device
check "openssl reads the CRL" openssl crl -in ca/crl/device-ca.crl -noout \
    -CAfile ca/device-ca.crt
refuse "the revoked device fails openssl verify -crl_check" 2 \
    "certificate revoked" openssl verify -crl_check -CAfile ca/device-ca.crt \
    -CRLfile ca/crl/device-ca.crl dev/000e08abcdef.crt
refuse "the renewed certificate of that MAC was revoked too" 2 \
    "certificate revoked" openssl verify -crl_check -CAfile ca/device-ca.crt \
    -CRLfile ca/crl/device-ca.crl dev2/000e08abcdef.crt
check "another device still verifies with the CRL" openssl verify \
    -crl_check -CAfile ca/device-ca.crt -CRLfile ca/crl/device-ca.crl \
    dev/000e08000002.crt
openssl crl -in ca/crl/device-ca.crl -noout -text > crl.txt
has "CRL lists the reason" crl.txt "Key Compromise"
has "CRL number 1" crl.txt "CRL Number"
check "revoke a server certificate by file" $CA revoke s2.crt --reason \
    superseded
check "server CRL to a chosen file" $CA crl --ca server -o server.crl \
    --days 30
refuse "revoked server certificate fails -crl_check" 2 "certificate revoked" \
    openssl verify -crl_check -CAfile ca/server-ca.crt -CRLfile server.crl \
    s2.crt
check "other server certificate passes -crl_check" openssl verify \
    -crl_check -CAfile ca/server-ca.crt -CRLfile server.crl s1.crt
serial=$(openssl x509 -in dev/000e08000002.crt -noout -serial | cut -d= -f2)
check "revoke by serial (lower case, 0x)" $CA revoke --serial \
    "0x$(echo "$serial" | tr A-F a-f)"
refuse "revoking twice says so" 1 "already revoked" $CA revoke \
    --serial "$serial"
refuse "an unknown serial is refused" 1 "was not issued by this CA" \
    $CA revoke --serial 0123456789ABCDEF
check "CRL numbers increase" sh -c "$CA crl >/dev/null && openssl crl \
    -in ca/crl/device-ca.crl -noout -crlnumber | grep -q 'crlNumber=0x02'"

check "revoke an operator" $CA revoke adm/alice.crt
check "admin CRL" $CA crl --ca admin
refuse "the revoked operator fails -crl_check" 2 "certificate revoked" \
    openssl verify -crl_check -CAfile ca/admin-ca.crt \
    -CRLfile ca/crl/admin-ca.crl adm/alice.crt
check "the admin CRL lists only operators" test "$(openssl crl \
    -in ca/crl/admin-ca.crl -noout -text | grep -c 'Serial Number')" = 1

# Listing and showing.
$CA list --json > list.json
check "list --json is JSON with one entry per certificate" test \
    "$(jq length list.json)" = "$($CA list | tail -n +2 | wc -l)"
check "list --json: a valid device" test "$(jq -r \
    '[.[] | select(.mac == "000e08000003")][0].status' list.json)" = valid
check "list --json: a revoked device with its reason" test "$(jq -r \
    '[.[] | select(.mac == "000e08abcdef")][0] | .status + " " + .reason' \
    list.json)" = "revoked keyCompromise"
check "list counts devices" test "$($CA list --kind device | tail -n +2 |
    wc -l)" = 4
check "list --revoked shows the revoked" test "$($CA list --revoked |
    tail -n +2 | wc -l)" = 5
check "list --expiring 100 shows the valid 90-day server certificates" \
    test "$($CA list --expiring 100 | grep -c ' server ')" = 3
check "list --expiring 10 shows none" test "$($CA list --expiring 10 |
    tail -n +2 | wc -l)" = 0
$CA show s1.crt > show.txt
has "show: CN rule verdict" show.txt "CN rule:    valid"
has "show: chain" show.txt "signed by server-ca"
has "show: index status" show.txt "index:      valid"
$CA show dev/000e08abcdef.crt > show2.txt
has "show: device identity" show2.txt \
    "mac=000e08abcdef serial=88012BA01234 model=CP-8841-3PCC"
has "show: revoked in the index" show2.txt "REVOKED"

# Usage errors exit 2; errors exit 1.
refuse "no command" 2 "usage:" $SPROV_CA
refuse "unknown command" 2 "unknown command 'frobnicate'" $SPROV_CA frobnicate
refuse "option the command does not take" 2 "list does not take --renew" \
    $CA list --renew
refuse "--days 0" 2 "--days: '0' is not a whole number" $CA sign-server \
    s1.csr --days 0
refuse "sign-server without CSR" 2 "usage: sprov-ca sign-server" \
    $CA sign-server
refuse "revoke without a target" 2 "exactly one of" $CA revoke
refuse "an unknown reason" 2 "--reason 'sometimes'" $CA revoke --mac \
    000e08000001 --reason sometimes
refuse "no CA directory" 1 "no CA here" $SPROV_CA -d nowhere list

# Secrets: a CA key readable by others is refused.
chmod 644 ca/device-ca.key
refuse "a group/world-readable CA key is refused" 1 "chmod 600" \
    $CA issue-device --mac 000e08000009 -o dev
chmod 600 ca/device-ca.key

# An encrypted CA.
printf 'correct horse battery staple\n' > ca.pass
chmod 600 ca.pass
check "init with an encrypted key" $SPROV_CA -d eca init --key-type ec-p384 \
    --passphrase-file ca.pass
has "keys are encrypted PKCS#8" eca/device-ca.key \
    "BEGIN ENCRYPTED PRIVATE KEY"
check "openssl decrypts the key with the passphrase" openssl pkey \
    -in eca/device-ca.key -passin file:ca.pass -noout
refuse "signing without the passphrase says what is missing" 1 \
    "--passphrase-file" $SPROV_CA -d eca issue-device --mac 000e08000001 -o e
check "signing with the passphrase" $SPROV_CA -d eca issue-device \
    --mac 000e08000001 -o e --ca-passphrase-file ca.pass
check "the P-384 CA signs with SHA-384" sh -c "openssl x509 -in \
    e/000e08000001.crt -noout -text | grep -q ecdsa-with-SHA384"
chmod 644 ca.pass
refuse "a readable passphrase file is refused" 1 "group/others" \
    $SPROV_CA -d x init --passphrase-file ca.pass
printf 'short\n' > short.pass
chmod 600 short.pass
refuse "a short passphrase is refused" 1 "at least 8" \
    $SPROV_CA -d x init --passphrase-file short.pass
check "refused inits created nothing" test ! -e x
for kt in rsa3072 rsa4096; do
	check "an $kt CA" $SPROV_CA -d $kt init --key-type $kt
	check "$kt roots are ${kt#rsa}-bit RSA" sh -c "openssl x509 -in \
	    $kt/server-ca.crt -noout -text | grep -q 'Public-Key: (${kt#rsa} bit)'"
	check "$kt CA signs a CSR that verifies" sh -c "$SPROV_CA -d $kt \
	    sign-server s1.csr -o $kt.crt 2>/dev/null && openssl verify \
	    -CAfile $kt/server-ca.crt $kt.crt"
done
check "an RSA CA" $SPROV_CA -d rca init --key-type rsa2048 --days 3650
check "RSA CA signs an EC CSR" $SPROV_CA -d rca sign-server s3.csr -o r.crt
check "RSA-signed certificate verifies" openssl verify \
    -CAfile rca/server-ca.crt r.crt
done_testing
