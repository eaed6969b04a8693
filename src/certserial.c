/* SPDX-License-Identifier: MIT */
/* Serial numbers as `openssl x509 -CAcreateserial` keeps them in ca.srl:
 * random 159-bit positive start, +1 before each signature, uppercase hex in
 * whole bytes and a newline. */
#include "certgen.h"

#include <ctype.h>
#include <errno.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

/* ca.srl text: 1-40 hex digits, then only whitespace. */
int certgen_serial_parse(const char *text, BIGNUM **out)
{
	char hex[CERTGEN_SERIAL_HEX_MAX + 1];
	size_t n = strspn(text, "0123456789abcdefABCDEF");
	const char *rest = text + n;

	while (isspace((unsigned char)*rest))
		rest++;
	if (n == 0 || n > CERTGEN_SERIAL_HEX_MAX || *rest)
		return -EINVAL;
	memcpy(hex, text, n);
	hex[n] = 0;
	*out = NULL;
	return BN_hex2bn(out, hex) ? 0 : -ENOMEM;
}

/* The next serial: +1, as `openssl x509 -CAserial` does before signing. */
int certgen_serial_advance(BIGNUM *bn)
{
	if (!BN_add_word(bn, 1))
		return -ENOMEM;
	return BN_num_bits(bn) > CERTGEN_SERIAL_BITS ? -ERANGE : 0;
}

/* A random positive serial of up to 159 bits, as -CAcreateserial makes. */
BIGNUM *certgen_serial_random(void)
{
	BIGNUM *bn = BN_new();

	if (!bn || !BN_rand(bn, CERTGEN_SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
		BN_free(bn);
		return NULL;
	}
	if (BN_is_zero(bn) && !BN_one(bn)) {
		BN_free(bn);
		return NULL;
	}
	return bn;
}

/* Uppercase hex, whole bytes: the form openssl writes to ca.srl. */
void certgen_serial_text(const BIGNUM *bn, char *buf, size_t len)
{
	char *hex = BN_bn2hex(bn);

	snprintf(buf, len, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
}
