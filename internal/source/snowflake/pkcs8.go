package snowflake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 5958) protected by
// PBES2 with PBKDF2 (RFC 8018), what `openssl pkcs8 -topk8 -v2 aes256` and
// Snowflake's key-pair guide write, and returns the PrivateKeyInfo DER.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var info struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue
		}
		Data []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, errors.New("not a valid encrypted PKCS#8 key")
	}
	if !info.Algo.OID.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted with %v; only PBES2 (openssl pkcs8 -topk8 -v2 aes256) is supported", info.Algo.OID)
	}
	var params struct {
		KDF struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue
		}
		Cipher struct {
			OID asn1.ObjectIdentifier
			IV  []byte
		}
	}
	if _, err := asn1.Unmarshal(info.Algo.Params.FullBytes, &params); err != nil {
		return nil, errors.New("not a valid PBES2 key: bad parameters")
	}
	if !params.KDF.OID.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %v; only PBKDF2 is supported", params.KDF.OID)
	}
	var kdf struct {
		Salt       []byte
		Iterations int
		KeyLength  int `asn1:"optional"`
		PRF        struct {
			OID asn1.ObjectIdentifier
		} `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(params.KDF.Params.FullBytes, &kdf); err != nil {
		return nil, errors.New("not a valid PBES2 key: bad PBKDF2 parameters")
	}
	var h func() hash.Hash
	switch {
	case kdf.PRF.OID == nil || kdf.PRF.OID.Equal(oidHMACSHA1):
		h = sha1.New
	case kdf.PRF.OID.Equal(oidHMACSHA256):
		h = sha256.New
	case kdf.PRF.OID.Equal(oidHMACSHA512):
		h = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 with %v; use hmacWithSHA256", kdf.PRF.OID)
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch {
	case params.Cipher.OID.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case params.Cipher.OID.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case params.Cipher.OID.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case params.Cipher.OID.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("cipher %v; use aes-256-cbc", params.Cipher.OID)
	}
	if kdf.Iterations <= 0 || kdf.Iterations > 10_000_000 {
		return nil, fmt.Errorf("PBKDF2 iteration count %d out of range", kdf.Iterations)
	}
	key, err := pbkdf2.Key(h, string(passphrase), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, errors.New("cannot derive the key from the passphrase")
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	if len(params.Cipher.IV) != bs || len(info.Data) == 0 || len(info.Data)%bs != 0 {
		return nil, errors.New("not a valid encrypted PKCS#8 key: bad IV or length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, params.Cipher.IV).CryptBlocks(out, info.Data)
	// PKCS#7 padding; a wrong passphrase almost always breaks it.
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, errors.New("wrong private_key_passphrase (the key does not decrypt)")
	}
	for _, c := range out[len(out)-pad:] {
		if int(c) != pad {
			return nil, errors.New("wrong private_key_passphrase (the key does not decrypt)")
		}
	}
	return out[:len(out)-pad], nil
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)
