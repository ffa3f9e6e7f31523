// OpenSSL 3 for the TCP transport's TLS (GranaryTransport is the one module that imports it).
// Several of the calls Granary needs are macros over SSL_ctrl/SSL_CTX_ctrl, which Swift cannot
// import; the inline functions below are those macros as functions.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static inline int granary_ssl_ctx_min_tls13(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
}

static inline long granary_ssl_set_modes(SSL *ssl) {
    // Partial writes on the non-blocking socket, retried later with the buffer where it is then.
    return SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static inline int granary_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline const char *granary_x509_verify_text(SSL *ssl) {
    return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

static inline void granary_ssl_ctx_ignore_unexpected_eof(SSL_CTX *ctx) {
    // Frames carry their own lengths, so a peer that closes without close_notify is seen as a
    // truncated frame by the layer above; OpenSSL's own error for it would only hide the reason.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
}

static inline void granary_ssl_ctx_read_ahead(SSL_CTX *ctx) {
    // Read whole socket buffers into OpenSSL's buffer, not one record header at a time: fewer
    // system calls for large reads.
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
}
