// Package devtls is the local stack's certificate authority: a CA made once
// under a directory (make dev uses .cache/dev/) and a server certificate it
// signs for 127.0.0.1, ::1 and localhost, so FOQUS (which drops credentials
// over http), turb_client and curl talk TLS to the local gateway after
// trusting one file. Everything is made with crypto/x509; nothing is
// downloaded.
package devtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files under the directory.
const (
	CAFile        = "ca.pem" // what clients trust (REQUESTS_CA_BUNDLE, curl --cacert)
	caKeyFile     = "ca-key.pem"
	CertFile      = "server.pem"
	serverKeyFile = "server-key.pem"
)

// Validity of what is made; a server certificate is re-issued when it
// has less than Renew left, a CA when it has expired.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	ServerValidity = 365 * 24 * time.Hour
	Renew          = 7 * 24 * time.Hour
)

// Hosts the server certificate covers.
var (
	DNSNames    = []string{"localhost"}
	IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
)

// Authority is the CA and server certificate of one directory.
type Authority struct {
	Dir    string
	CA     *x509.Certificate
	Server tls.Certificate
}

// CAPath is the CA certificate's file, to trust.
func (a *Authority) CAPath() string { return filepath.Join(a.Dir, CAFile) }

// TLSConfig serves the server certificate (TLS 1.2 or later).
func (a *Authority) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{a.Server}}
}

// Pool holds only the CA: what a client that trusts nothing else uses.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.CA)
	return p
}

// Ensure loads the authority of dir, making the CA when there is none (or
// it expired) and the server certificate when it is missing, not signed by
// that CA, about to expire or not covering the local hosts. Keys are written
// 0600.
func Ensure(dir string, now time.Time) (*Authority, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	a := &Authority{Dir: dir}
	ca, caKey, err := load(dir, CAFile, caKeyFile)
	if err != nil || now.After(ca.NotAfter) {
		if ca, caKey, err = makeCA(dir, now); err != nil {
			return nil, err
		}
	}
	a.CA = ca
	cert, key, err := load(dir, CertFile, serverKeyFile)
	if err != nil || !serves(cert, ca, now) {
		if cert, key, err = makeServer(dir, ca, caKey, now); err != nil {
			return nil, err
		}
	}
	a.Server = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return a, nil
}

func serves(cert, ca *x509.Certificate, now time.Time) bool {
	if cert.CheckSignatureFrom(ca) != nil || now.Add(Renew).After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return false
	}
	for _, h := range DNSNames {
		if !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	for _, ip := range IPAddresses {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func load(dir, certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func makeCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "FOQUS cloud local CA", Organization: []string{"FOQUS cloud make dev"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return issue(dir, CAFile, caKeyFile, tmpl, nil, nil)
}

func makeServer(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(ServerValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    DNSNames,
		IPAddresses: IPAddresses,
	}
	return issue(dir, CertFile, serverKeyFile, tmpl, ca, caKey)
}

// issue makes a key, signs tmpl with parent (itself when nil) and writes both.
func issue(dir, certFile, keyFile string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	if err := write(filepath.Join(dir, keyFile), "EC PRIVATE KEY", kder, 0o600); err != nil {
		return nil, nil, err
	}
	if err := write(filepath.Join(dir, certFile), "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	return cert, key, nil
}

// write replaces path atomically, so a crash never leaves half a key.
func write(path, kind string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
