# Sourced by the TLS benchmarks. `make_tls_pki DIR` makes the throw-away test PKI of the
# acceptance cases in DIR (a root, an intermediate, a www.example.test leaf issued by it):
# ca.pem, int.pem/int.key, www.pem/www.key; nothing here is a secret worth keeping.
# `tls_params PKI PORT...` prints tls collector parameters for www.example.test at those ports
# of 127.0.0.1, trusting PKI/ca.pem, all scanned at once.
make_tls_pki() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    q() { "$@" > /dev/null 2>&1; }
    q openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Test Root CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    q openssl req -newkey rsa:2048 -nodes -subj "/CN=Test Intermediate CA" -keyout int.key \
      -out int.csr
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' \
      > int.ext
    q openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
      -extfile int.ext -out int.pem
    q openssl req -newkey rsa:2048 -nodes -subj "/CN=www.example.test" -keyout www.key -out www.csr
    printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=DNS:www.example.test' > www.ext
    q openssl x509 -req -in www.csr -CA int.pem -CAkey int.key -CAcreateserial -days 365 -sha256 \
      -extfile www.ext -out www.pem
  )
}

tls_params() {
  local pki=$1 list="" p
  shift
  for p in "$@"; do
    list+="${list:+,}{\"host\":\"www.example.test\",\"port\":$p,\"addresses\":[\"127.0.0.1\"]}"
  done
  echo "{\"ca_file\":\"$pki/ca.pem\",\"concurrency\":20,\"endpoints\":[$list]}"
}
