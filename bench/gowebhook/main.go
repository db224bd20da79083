// Command gowebhook is the bench's yardstick: a minimal cert-manager DNS-01
// webhook in Go doing the DNS work the way cert-manager's built-in RFC 2136
// solver does it (pkg/issuer/acme/dns/rfc2136: miekg/dns, one TSIG-signed
// UPDATE over UDP per call), behind net/http's TLS with the front proxy's
// client certificate checked against --requestheader-client-ca-file and
// X-Remote-User required, the TSIG secret read from a directory
// (DIR/NAMESPACE/NAME/KEY) on every call.  No Kubernetes API at all: the best
// case of a Go webhook.  Not a product: no deadline budget, no diagnosis.
//
// Built from Debian's golang-go and golang-github-miekg-dns-dev with
// GO111MODULE=off GOPATH=/usr/share/gocode (mk/bench.mk).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

type secretRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type config struct {
	Nameserver    string    `json:"nameserver"`
	TSIGKeyName   string    `json:"tsigKeyName"`
	TSIGAlgorithm string    `json:"tsigAlgorithm"`
	SecretRef     secretRef `json:"tsigSecretSecretRef"`
}

type request struct {
	UID               string          `json:"uid"`
	Action            string          `json:"action"`
	ResolvedFQDN      string          `json:"resolvedFQDN"`
	ResolvedZone      string          `json:"resolvedZone"`
	Key               string          `json:"key"`
	ResourceNamespace string          `json:"resourceNamespace"`
	Config            json.RawMessage `json:"config"`
}

type review struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Request    *request        `json:"request,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
}

var algorithms = map[string]string{
	"HMACMD5": dns.HmacMD5, "HMACSHA1": dns.HmacSHA1,
	"HMACSHA256": dns.HmacSHA256, "HMACSHA512": dns.HmacSHA512,
}

var secretsDir string

// solve does what cert-manager's rfc2136 DNSProvider.changeRecord does.
func solve(r *request) error {
	var cfg config
	if err := json.Unmarshal(r.Config, &cfg); err != nil {
		return fmt.Errorf("config: %v", err)
	}
	alg, ok := algorithms[strings.ToUpper(strings.ReplaceAll(cfg.TSIGAlgorithm, "-", ""))]
	if !ok {
		return fmt.Errorf("unsupported TSIG algorithm %q", cfg.TSIGAlgorithm)
	}
	b, err := os.ReadFile(filepath.Join(secretsDir, r.ResourceNamespace,
		cfg.SecretRef.Name, cfg.SecretRef.Key))
	if err != nil {
		return err
	}
	secret := strings.TrimSpace(string(b))
	rr := new(dns.TXT)
	rr.Hdr = dns.RR_Header{Name: dns.Fqdn(r.ResolvedFQDN),
		Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}
	rr.Txt = []string{r.Key}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(r.ResolvedZone))
	if r.Action == "Present" {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	keyName := dns.Fqdn(cfg.TSIGKeyName)
	c := new(dns.Client)
	c.TsigSecret = map[string]string{keyName: secret}
	m.SetTsig(keyName, alg, 300, time.Now().Unix())
	reply, _, err := c.Exchange(m, cfg.Nameserver)
	if err != nil {
		return fmt.Errorf("DNS update failed: %v", err)
	}
	if reply != nil && reply.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("DNS update failed. Server replied: %s",
			dns.RcodeToString[reply.Rcode])
	}
	return nil
}

func handle(w http.ResponseWriter, req *http.Request) {
	if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 ||
		req.Header.Get("X-Remote-User") == "" {
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var in review
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&in); err != nil || in.Request == nil {
		http.Error(w, "bad ChallengePayload", http.StatusBadRequest)
		return
	}
	resp := map[string]interface{}{"uid": in.Request.UID, "success": true}
	if err := solve(in.Request); err != nil {
		resp["success"] = false
		resp["status"] = map[string]interface{}{"message": err.Error()}
	}
	out, _ := json.Marshal(resp)
	in.Response = out
	in.Request = nil
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(in)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address:port")
	cert := flag.String("tls-cert-file", "", "serving certificate")
	key := flag.String("tls-private-key-file", "", "its key")
	ca := flag.String("requestheader-client-ca-file", "", "front proxy CA")
	flag.StringVar(&secretsDir, "secrets-dir", "", "DIR/NS/NAME/KEY")
	flag.Parse()
	pem, err := os.ReadFile(*ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatal("no certificate in ", *ca)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/apis/", handle)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	})
	srv := &http.Server{Addr: *addr, Handler: mux,
		TLSConfig: &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs: pool}}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
