# Sourced by RUN steps: trust the CA bundle handed in as the CA_BUNDLE build argument (see docker/ca/README.md).
if [ -n "${CA_BUNDLE:-}" ]; then
  export PIP_CERT="$CA_BUNDLE" REQUESTS_CA_BUNDLE="$CA_BUNDLE" SSL_CERT_FILE="$CA_BUNDLE"
fi
