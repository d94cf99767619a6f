package testenv

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// ServeSnowProxy starts a SnowProxy in front of f outside a test (the
// local unload environment command); Close stops it.
func ServeSnowProxy(f *Fakesnow) (*SnowProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	target, _ := url.Parse(f.URL())
	p := &SnowProxy{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, rp: httputil.NewSingleHostReverseProxy(target)}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops a proxy started with ServeSnowProxy.
func (p *SnowProxy) Close() error { return p.srv.Close() }
